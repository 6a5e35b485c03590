//! The caller's network identity (IP and user agent) for rate limits and the audit log.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use temponest_ratelimit::RateLimiter;

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
