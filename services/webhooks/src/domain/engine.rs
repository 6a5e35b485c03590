//! The delivery engine: the [dispatcher](super::dispatcher) (outbox → deliveries), the
//! [sender](super::sender) (deliveries → signed HTTP attempts) and the
//! [retention](super::retention) purge as background tasks sharing a shutdown signal. Any number of engines may run against one database (SKIP LOCKED claims,
//! leases).

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{dispatcher, retention, sender};
use crate::state::AppState;

/// The running engine; [`Engine::shutdown`] stops it (dropping it stops it without waiting).
pub struct Engine {
    id: Uuid,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the dispatcher, the sender and the retention purge (nothing when
/// `webhooks.run_engine` is off).
pub fn start(state: AppState) -> Engine {
    let id = Uuid::now_v7();
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    if state.config.webhooks.run_engine {
        let wake = Arc::new(Notify::new());
        let (handoff, inbox) = sender::handoff(&state.config.webhooks, id);
        tasks.push(tokio::spawn(dispatcher::run(
            state.clone(),
            handoff,
            wake.clone(),
            cancel.clone(),
        )));
        tasks.push(tokio::spawn(retention::run(state.clone(), cancel.clone())));
        tasks.push(tokio::spawn(sender::run(
            state,
            id,
            wake,
            inbox,
            cancel.clone(),
        )));
        tracing::info!(engine = %id, "webhook delivery engine started");
    }
    Engine { id, cancel, tasks }
}

impl Engine {
    /// This engine's id: the `leased_by` of the deliveries its sender holds.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Stops claiming work, waits (up to [`sender::SHUTDOWN_GRACE`]) for attempts in flight,
    /// releases the leases it still holds and returns.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
