//! The session events of the outbox: `collaboration.completed` and `collaboration.failed`
//! (cancelled sessions too; see `outcome`). Their payload is the session exactly as
//! `GET /collaboration/sessions/{id}` shows it, like the execution events.

use sqlx::PgConnection;
use temponest_outbox::catalogue;

use super::SessionStatus;
use crate::db::collaboration::{SessionRow, StepRow};
use crate::models::SessionOut;

/// Publishes the end of the session `row` (with its `steps`) in the caller's transaction.
pub async fn publish_end(
    conn: &mut PgConnection,
    row: &SessionRow,
    steps: Vec<StepRow>,
) -> sqlx::Result<()> {
    let name = match row.status {
        SessionStatus::Completed => catalogue::COLLABORATION_COMPLETED,
        _ => catalogue::COLLABORATION_FAILED,
    };
    let payload = serde_json::json!(SessionOut::new(row.clone(), steps));
    temponest_outbox::publish(conn, row.tenant_id, name, &payload).await?;
    Ok(())
}
