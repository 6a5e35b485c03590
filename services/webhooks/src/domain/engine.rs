//! The delivery engine: the [dispatcher](super::dispatcher) (outbox → deliveries), the
//! [sender](super::sender) (deliveries → signed HTTP attempts) and the
//! [retention](super::retention) purge as background tasks sharing a shutdown signal. Any
//! number of engines may run against one database (SKIP LOCKED claims, leases). Each engine is
//! a `webhooks` [instance](temponest_db::instances) under its own id: when one dies, a
//! survivor gives its leased deliveries back to the queue within seconds instead of waiting
//! `lease_secs` for the leases to lapse.

use std::sync::Arc;

use sqlx::PgConnection;
use temponest_db::EngineHandle;
use temponest_db::instances::Reaper;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{deliveries, queue};
use crate::domain::{dispatcher, retention, sender};
use crate::state::AppState;

/// The running engine; its `shutdown` stops claiming work, waits (up to
/// [`sender::SHUTDOWN_GRACE`]) for attempts in flight, releases the leases it still holds and
/// returns (dropping it stops it without waiting). Its id is the `leased_by` of the
/// deliveries its sender holds.
pub type Engine = EngineHandle;

/// Starts the dispatcher, the sender and the retention purge (the service starts it unless
/// `webhooks.run_engine` is off: [`crate::service`]).
pub fn start(state: AppState) -> Engine {
    let id = Uuid::now_v7();
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    let wake = Arc::new(Notify::new());
    let (handoff, inbox) = sender::handoff(&state.config.webhooks, id, wake.clone());
    state.engine.started(handoff.clone());
    tasks.push(tokio::spawn(dispatcher::run(
        state.clone(),
        handoff,
        cancel.clone(),
    )));
    tasks.push(tokio::spawn(retention::run(state.clone(), cancel.clone())));
    // Registered until the sender has released its leases at shutdown, not just until
    // it stops claiming: a crash during the grace period must still be recognised.
    let registered = CancellationToken::new();
    tasks.push(tokio::spawn(temponest_db::instances::live(
        state.pool.clone(),
        id,
        state.config.liveness,
        DeadSenders,
        registered.clone(),
    )));
    let sender = sender::run(state, id, wake, inbox, cancel.clone());
    tasks.push(tokio::spawn(async move {
        sender.await;
        registered.cancel();
    }));
    tracing::info!(engine = %id, "webhook delivery engine started");
    EngineHandle::new(id, cancel, tasks)
}

/// Returns the deliveries leased by dead senders to the queue and wakes the senders.
struct DeadSenders;

impl Reaper for DeadSenders {
    fn role(&self) -> &'static str {
        "webhooks"
    }

    async fn release(&self, conn: &mut PgConnection, dead: &[Uuid]) -> sqlx::Result<u64> {
        let released = queue::release_all(conn, dead).await?;
        if released > 0 {
            deliveries::wake_senders(conn).await?;
        }
        Ok(released)
    }
}
