//! Frame batching: the streamed frames of a run waiting to be persisted. Followers in this
//! process read frames from memory ([`Run`](crate::domain::runs::Run)) as they come; Postgres
//! (read when resuming through another replica) gets them in batches, when [`FRAME_BATCH`]
//! are waiting or the oldest has waited [`FRAME_FLUSH_EVERY`], and the rest in the run's
//! finishing transaction. A failed flush keeps the batch for the next one; a replayed batch
//! is ignored by sequence number, so frames are never lost nor duplicated.

use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{WriteQueue, write_now};
use crate::db::executions;

/// Frames are persisted when this many are waiting ...
pub const FRAME_BATCH: usize = 64;
/// ... or when the oldest waiting one is this old.
pub const FRAME_FLUSH_EVERY: Duration = Duration::from_millis(250);

/// Frames not yet persisted and the sequence number of the first of them.
pub struct FrameBatch {
    execution_id: Uuid,
    waiting: Vec<String>,
    first_seq: i32,
    oldest: Option<Instant>,
}

impl FrameBatch {
    /// An empty batch for an execution whose first frame is number 1.
    pub fn new(execution_id: Uuid) -> Self {
        Self {
            execution_id,
            waiting: Vec::new(),
            first_seq: 1,
            oldest: None,
        }
    }

    /// Queues the next frame.
    pub fn push(&mut self, frame: String) {
        self.waiting.push(frame);
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// Whether the waiting frames should be written now.
    pub fn is_due(&self) -> bool {
        self.waiting.len() >= FRAME_BATCH
            || self
                .oldest
                .is_some_and(|oldest| oldest.elapsed() >= FRAME_FLUSH_EVERY)
    }

    /// Writes the waiting frames if they are due. A failure is logged and the frames stay
    /// queued: the stream goes on, and the next flush or the finishing transaction writes them.
    pub async fn flush_if_due(&mut self, pool: &PgPool) {
        if self.is_due() {
            write_now(pool, self, "stream frames").await;
        }
    }
}

impl WriteQueue for FrameBatch {
    async fn append(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        executions::append_frames(conn, self.execution_id, self.first_seq, &self.waiting).await
    }

    fn forget_written(&mut self) {
        self.first_seq += self.waiting.len() as i32;
        self.waiting.clear();
        self.oldest = None;
    }
}
