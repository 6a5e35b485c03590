//! `webhooks.secrets`: an endpoint's current signing secret and, during a rotation's grace
//! period, the previous ones.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Stores `secret` (as [`Sealer::store`](crate::domain::sealing::Sealer::store) made it) as
/// the endpoint's current secret.
pub async fn insert_current(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    secret: &[u8],
    sealed: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into webhooks.secrets (id, endpoint_id, secret, sealed) values ($1, $2, $3, $4)",
        Uuid::now_v7(),
        endpoint_id,
        secret,
        sealed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Rotation: the current secret keeps signing until `grace_until`, `secret` becomes current.
/// Call inside a transaction.
pub async fn rotate(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    secret: &[u8],
    sealed: bool,
    grace_until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhooks.secrets set expires_at = $2 where endpoint_id = $1 and expires_at is null",
        endpoint_id,
        grace_until
    )
    .execute(&mut *conn)
    .await?;
    insert_current(conn, endpoint_id, secret, sealed).await
}
