//! `auth.sessions` and `auth.refresh_tokens`: refresh-token families with rotation.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use temponest_auth_client::permissions::Role;
use uuid::Uuid;

pub async fn create_session(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    tenant_id: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into auth.sessions (id, user_id, tenant_id, ip, user_agent) values ($1, $2, $3, $4, $5)",
        id,
        user_id,
        tenant_id,
        ip,
        user_agent
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    conn: &mut PgConnection,
    id: Uuid,
    session_id: Uuid,
    generation: i32,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into auth.refresh_tokens (id, session_id, generation, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
        id,
        session_id,
        generation,
        token_hash,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A refresh token with its session and user, locked for the rotation decision.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub generation: i32,
    pub successor_id: Option<Uuid>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub session_revoked: bool,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub roles: Vec<Role>,
    pub user_active: bool,
}

pub async fn lock_refresh_token(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<RefreshRow>> {
    sqlx::query_as!(
        RefreshRow,
        r#"select r.id, r.session_id, r.generation, r.successor_id, r.rotated_at, r.expires_at,
                  (s.revoked_at is not null) as "session_revoked!",
                  u.id as user_id, u.tenant_id, u.email, u.roles as "roles: Vec<Role>",
                  u.is_active as user_active
           from auth.refresh_tokens r
           join auth.sessions s on s.id = r.session_id
           join auth.users u on u.id = s.user_id
           where r.token_hash = $1
           for update of r"#,
        token_hash
    )
    .fetch_optional(conn)
    .await
}

pub async fn mark_rotated(
    conn: &mut PgConnection,
    id: Uuid,
    successor_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.refresh_tokens set successor_id = $2, rotated_at = now() where id = $1",
        id,
        successor_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn touch_session(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.sessions set last_refreshed_at = now() where id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the successor of a rotated token is itself still unrotated (the grace window
/// only hands out a successor that is still the family's head).
pub async fn is_head(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select (rotated_at is null) as "head!" from auth.refresh_tokens where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or(false))
}

/// Revokes one session (idempotent). Returns true when it was live.
pub async fn revoke(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update auth.sessions set revoked_at = now(), revoked_reason = $2
         where id = $1 and revoked_at is null",
        id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every live session of a user (deactivation).
pub async fn revoke_all_for_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    reason: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update auth.sessions set revoked_at = now(), revoked_reason = $2
         where user_id = $1 and revoked_at is null",
        user_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a session is live: not revoked, and its user and tenant still active.
pub async fn is_live(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    Ok(temponest_db::timed(
        "sessions.is_live",
        sqlx::query_scalar!(
            r#"select (s.revoked_at is null and u.is_active and t.is_active) as "live!"
               from auth.sessions s
               join auth.users u on u.id = s.user_id
               join auth.tenants t on t.id = s.tenant_id
               where s.id = $1"#,
            id
        )
        .fetch_optional(pool),
    )
    .await?
    .unwrap_or(false))
}

/// Ids of a user's live sessions (to invalidate cached liveness when they are revoked).
pub async fn live_ids_for_user(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "select id from auth.sessions where user_id = $1 and revoked_at is null",
        user_id
    )
    .fetch_all(conn)
    .await
}
