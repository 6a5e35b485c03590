//! `auth.audit_log`: one row per security event.

use sqlx::PgExecutor;
use uuid::Uuid;

/// Security events recorded in the audit log.
#[derive(Debug, Clone, Copy)]
pub enum AuditEvent {
    Register,
    LoginSuccess,
    LoginFailure,
    LoginLocked,
    Logout,
    RefreshReuse,
    ApiKeyCreated,
    ApiKeyRevoked,
    UserCreated,
    RoleChanged,
    UserDeactivated,
}

impl AuditEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::LoginSuccess => "login.success",
            Self::LoginFailure => "login.failure",
            Self::LoginLocked => "login.locked",
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh.reuse_detected",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::UserCreated => "user.created",
            Self::RoleChanged => "user.roles_changed",
            Self::UserDeactivated => "user.deactivated",
        }
    }
}

/// Appends an event. Pass the transaction of the change it records where there is one.
pub async fn record<'e>(
    executor: impl PgExecutor<'e>,
    event: AuditEvent,
    tenant_id: Option<Uuid>,
    user_id: Option<Uuid>,
    ip: Option<&str>,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into auth.audit_log (tenant_id, user_id, event, ip, details) values ($1, $2, $3, $4, $5)",
        tenant_id,
        user_id,
        event.as_str(),
        ip,
        details
    )
    .execute(executor)
    .await?;
    Ok(())
}
