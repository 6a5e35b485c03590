//! Executions running in this process: their cancellation tokens and their streamed frames,
//! so any number of clients can follow (or resume) a stream live. Frames are also persisted
//! in batches ([`frames`](crate::domain::execution::frames)), which is what resuming through
//! another replica reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The in-process registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Runs {
    inner: Arc<Mutex<HashMap<Uuid, Arc<Run>>>>,
    /// Set when the process shuts down: stopped runs end as `interrupted`, not `cancelled`.
    interrupted: Arc<AtomicBool>,
    /// Notified whenever the last run finishes.
    emptied: Arc<Notify>,
}

impl Runs {
    /// Registers a new run.
    pub fn start(&self, id: Uuid, tenant_id: Uuid) -> Arc<Run> {
        let (progress, _) = watch::channel(Progress::default());
        let run = Arc::new(Run {
            id,
            tenant_id,
            cancel: CancellationToken::new(),
            frames: RwLock::new(Vec::new()),
            progress,
        });
        self.lock().insert(id, run.clone());
        metrics::gauge!("agent_executions_in_flight").increment(1.0);
        run
    }

    /// The run of `id` if this process runs it.
    pub fn get(&self, id: Uuid) -> Option<Arc<Run>> {
        self.lock().get(&id).cloned()
    }

    /// Forgets a finished run (followers holding it keep reading its frames).
    pub fn remove(&self, id: Uuid) {
        let mut runs = self.lock();
        if runs.remove(&id).is_some() {
            metrics::gauge!("agent_executions_in_flight").decrement(1.0);
        }
        if runs.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Ids of every run in this process (for the heartbeat).
    pub fn ids(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    /// Shutdown: stops every run (each records itself as failed with outcome `interrupted`,
    /// with what it had used) and waits up to `wait` for them to finish recording. Returns
    /// how many were still running when the wait ended.
    pub async fn interrupt_all(&self, wait: Duration) -> usize {
        self.interrupted.store(true, Ordering::SeqCst);
        for run in self.lock().values() {
            run.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let emptied = self.emptied.notified();
            let left = self.lock().len();
            if left == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return self.lock().len();
            }
        }
    }

    /// Whether the process is shutting down.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Run>>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How far a run has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub frames: usize,
    pub done: bool,
}

/// One execution running here.
pub struct Run {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub cancel: CancellationToken,
    frames: RwLock<Vec<Arc<str>>>,
    progress: watch::Sender<Progress>,
}

impl Run {
    /// Appends a frame (its sequence number is its 1-based position) and wakes followers.
    pub fn push(&self, data: String) -> usize {
        let count = {
            let mut frames = self.frames.write().unwrap_or_else(|p| p.into_inner());
            frames.push(data.into());
            frames.len()
        };
        self.progress.send_modify(|p| p.frames = count);
        count
    }

    /// Marks the stream complete.
    pub fn finish(&self) {
        self.progress.send_modify(|p| p.done = true);
    }

    /// Frames after sequence number `after` (0 = from the start) and whether the run is done.
    pub fn frames_after(&self, after: usize) -> (Vec<Arc<str>>, bool) {
        let done = self.progress.borrow().done;
        let frames = self.frames.read().unwrap_or_else(|p| p.into_inner());
        let tail = frames.get(after..).map(<[_]>::to_vec).unwrap_or_default();
        (tail, done)
    }

    /// Changes whenever a frame is added or the run finishes.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }
}
