//! The caller's network identity (IP and user agent) for rate limits and the audit log.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use sqlx::PgConnection;
use temponest_auth_client::Principal;
use temponest_ratelimit::RateLimiter;

use crate::db::audit::{self, AuditEvent};

/// Client IP (from the connection, or `X-Forwarded-For` when the limiter trusts a proxy)
/// and user agent.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl<S> FromRequestParts<S> for ClientInfo
where
    S: Send + Sync,
    RateLimiter: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let trust = RateLimiter::from_ref(state).config().trust_forwarded_for;
        let ip = temponest_ratelimit::client_ip(&parts.headers, &parts.extensions, trust);
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Ok(Self { ip, user_agent })
    }
}

impl ClientInfo {
    /// Records `event` in the audit log as done by `principal` from this client, in the
    /// caller's transaction.
    pub async fn audit(
        &self,
        conn: &mut PgConnection,
        principal: &Principal,
        event: AuditEvent,
        details: serde_json::Value,
    ) -> sqlx::Result<()> {
        let (tenant, user) = (Some(principal.tenant_id), Some(principal.user_id));
        audit::record(conn, event, tenant, user, Some(&self.ip), details).await
    }
}
