//! The execution events of the outbox (`agent.execution.started`, `.completed`, `.failed`).
//! Their payload is the execution exactly as `GET /executions/{id}` shows it, so subscribers
//! and API clients read one shape: this is the one place the domain uses that API type.

use serde_json::json;
use sqlx::PgConnection;
use temponest_outbox::catalogue;

use crate::db::executions::ExecutionRow;
use crate::models::ExecutionOut;

/// Which event an execution's change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionEvent {
    Started,
    Completed,
    Failed,
}

impl ExecutionEvent {
    /// The event announcing that an execution ended with `row`'s status.
    pub fn ended(row: &ExecutionRow) -> Self {
        match row.status {
            super::ExecutionStatus::Completed => Self::Completed,
            _ => Self::Failed,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Started => catalogue::EXECUTION_STARTED,
            Self::Completed => catalogue::EXECUTION_COMPLETED,
            Self::Failed => catalogue::EXECUTION_FAILED,
        }
    }
}

/// Publishes `event` for the execution `row` in the caller's transaction.
pub async fn publish(
    conn: &mut PgConnection,
    event: ExecutionEvent,
    row: &ExecutionRow,
) -> sqlx::Result<()> {
    let payload = json!(ExecutionOut::from(row.clone()));
    temponest_outbox::publish(conn, row.tenant_id, event.name(), &payload).await?;
    Ok(())
}
