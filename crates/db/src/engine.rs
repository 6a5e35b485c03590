//! The handle of a background engine that works on leased rows (the scheduler's runs, the
//! webhook sender's deliveries, knowledge's ingestion): its id, the tasks it runs and the
//! signal they share to stop, written once for every engine.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A running engine; [`EngineHandle::shutdown`] stops it gracefully, dropping it stops it
/// without waiting.
pub struct EngineHandle {
    id: Uuid,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl EngineHandle {
    /// The engine `id` running `tasks`, which stop when `cancel` is cancelled.
    pub fn new(id: Uuid, cancel: CancellationToken, tasks: Vec<JoinHandle<()>>) -> Self {
        Self { id, cancel, tasks }
    }

    /// This engine's id: the `leased_by` of the rows it holds (and its
    /// [instance](crate::instances) id where it registers one).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Tells every task to stop and waits until all have returned (each finishes or gives
    /// back the work in hand first).
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
