//! API-key resolution. The auth service answers `POST /auth/introspect`; other services call
//! it through [`RemoteIntrospection`] (or, in the all-in-one binary, the auth service's own
//! resolver in process). Results are cached by [`crate::AuthClient`] for 30 s.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temponest_web::ApiError;

use crate::Principal;

/// Resolves an API key to the principal it acts for; `Ok(None)` when the key is unknown,
/// revoked or expired.
pub trait ApiKeyResolver: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, ApiError>>;
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

impl ApiKeyResolver for RemoteIntrospection {
    fn resolve<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, ApiError>> {
        Box::pin(async move {
            let mut last_error = String::new();
            // Two quick retries with backoff: introspection sits on the request path.
            for attempt in 0..3u32 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempt))).await;
                }
                let mut headers = http::HeaderMap::new();
                temponest_telemetry::http::inject_trace_context(&mut headers);
                let sent = self
                    .http
                    .post(&self.url)
                    .headers(headers)
                    .timeout(Duration::from_secs(2))
                    .json(&IntrospectionRequest {
                        token: api_key.to_owned(),
                    })
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => {
                        let body: IntrospectionResponse = resp
                            .json()
                            .await
                            .map_err(|e| ApiError::unavailable(format!("introspection: {e}")))?;
                        return Ok(body.principal.filter(|_| body.active));
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
        })
    }
}
