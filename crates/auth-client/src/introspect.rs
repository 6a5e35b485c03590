//! Introspection: resolving API keys and checking that an access token's session is still
//! live. The auth service answers `POST /auth/introspect`; other services call it through
//! [`RemoteIntrospection`] (in the auth service and the all-in-one binary, the auth service's
//! own introspector answers in process). Results are cached by [`crate::AuthClient`] for
//! 30 s and invalidated on every replica when a key or session is revoked.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temponest_web::ApiError;

use crate::Principal;

/// What the auth service knows that a token or key alone does not say.
pub trait Introspector: Send + Sync + 'static {
    /// The principal an API key acts for; `Ok(None)` when the key is unknown, revoked or
    /// expired, or its owner is disabled.
    fn resolve<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, ApiError>>;

    /// Whether the session an access token (with a verified signature) belongs to is still
    /// live: not logged out, not revoked for refresh-token reuse, its user still active.
    fn session_live<'a>(
        &'a self,
        session_id: uuid::Uuid,
        access_token: &'a str,
    ) -> BoxFuture<'a, Result<bool, ApiError>>;
}

/// Cache key for an API key: the hex SHA-256 that the auth service also stores, so it can
/// invalidate the entry on revocation without ever seeing the key again.
pub fn api_key_cache_key(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

/// `POST /auth/introspect` request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntrospectionRequest {
    /// An API key (`sk_...`) or an access token.
    pub token: String,
}

/// `POST /auth/introspect` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
}

/// Resolves keys by calling the auth service over HTTP.
pub struct RemoteIntrospection {
    url: String,
    http: reqwest::Client,
}

impl RemoteIntrospection {
    /// `auth_base_url` is e.g. `http://auth:9002`.
    pub fn new(auth_base_url: &str, http: reqwest::Client) -> Self {
        Self {
            url: format!("{}/auth/introspect", auth_base_url.trim_end_matches('/')),
            http,
        }
    }
}

impl RemoteIntrospection {
    /// `POST /auth/introspect` with two quick retries (it sits on the request path).
    async fn introspect(&self, token: &str) -> Result<IntrospectionResponse, ApiError> {
        let mut last_error = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(crate::service::QUICK_RETRY.delay(attempt - 1)).await;
            }
            let mut headers = http::HeaderMap::new();
            temponest_telemetry::http::inject_trace_context(&mut headers);
            let sent = self
                .http
                .post(&self.url)
                .headers(headers)
                .timeout(Duration::from_secs(2))
                .json(&IntrospectionRequest {
                    token: token.to_owned(),
                })
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    return resp
                        .json()
                        .await
                        .map_err(|e| ApiError::unavailable(format!("introspection: {e}")));
                }
                Ok(resp) if resp.status().is_server_error() => {
                    last_error = format!("status {}", resp.status());
                }
                Ok(resp) => {
                    return Err(ApiError::unavailable(format!(
                        "introspection answered {}",
                        resp.status()
                    )));
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        Err(ApiError::unavailable(format!(
            "auth service unreachable: {last_error}"
        )))
    }
}

impl Introspector for RemoteIntrospection {
    fn resolve<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, ApiError>> {
        Box::pin(async move {
            let body = self.introspect(api_key).await?;
            Ok(body.principal.filter(|_| body.active))
        })
    }

    fn session_live<'a>(
        &'a self,
        _session_id: uuid::Uuid,
        access_token: &'a str,
    ) -> BoxFuture<'a, Result<bool, ApiError>> {
        Box::pin(async move { Ok(self.introspect(access_token).await?.active) })
    }
}
