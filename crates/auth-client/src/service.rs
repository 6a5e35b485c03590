//! Service identities: the request and response of `POST /auth/service-token` (OAuth2
//! client-credentials style), the fixed subject of a service client, and [`ServiceTokens`],
//! which internal callers (the scheduler calling agents) use to obtain a short-lived token for
//! one tenant, cached until shortly before it expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temponest_secrets::Secret;
use uuid::Uuid;

/// Retries of calls to the auth service on a request's path: quick and few (about 50 ms, then
/// 100 ms).
pub(crate) const QUICK_RETRY: temponest_retry::Backoff = temponest_retry::Backoff::new(
    Duration::from_millis(50),
    Duration::from_millis(400),
    temponest_retry::Jitter::Equal,
);

/// A cached token is replaced this long before it expires, so a caller never sends one that
/// expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The fixed subject (`sub`) of a service client's tokens: the first 16 bytes of
/// SHA-256("temponest-service:" + name), as a version-4 UUID.
pub fn service_subject(client: &str) -> Uuid {
    let digest = Sha256::digest(format!("temponest-service:{client}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The `email` claim of a service client's tokens.
pub fn service_email(client: &str) -> String {
    format!("{client}@service.temponest.internal")
}

/// `POST /auth/service-token` request (`Debug` never shows the secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceTokenRequest {
    /// A known service client, e.g. `scheduler`.
    pub client_id: String,
    /// The client's configured secret.
    #[schema(value_type = String)]
    pub client_secret: Secret,
    /// The tenant the token acts for.
    pub tenant_id: Uuid,
}

/// `POST /auth/service-token` response (`Debug` never shows the token).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceTokenResponse {
    /// The service token (a JWT of type `service`).
    #[schema(value_type = String)]
    pub access_token: Secret,
    /// Always `bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    pub tenant_id: Uuid,
    /// The client's fixed scopes.
    pub permissions: Vec<crate::permissions::Permission>,
}

/// Why no service token could be obtained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceTokenError {
    /// The auth service refused (bad client credentials, unknown tenant): not retried.
    #[error("auth refused the service token: {0}")]
    Rejected(String),
    /// The auth service could not be reached or failed (network error, 5xx), after retries.
    #[error("auth service unavailable: {0}")]
    Unavailable(String),
}

/// Why [`ServiceTokens::send`] got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceCallError {
    /// No token could be obtained for the tenant; nothing was sent.
    #[error(transparent)]
    Token(#[from] ServiceTokenError),
    /// The request got no answer: connect error, timeout, broken connection.
    #[error("{0}")]
    Transport(reqwest::Error),
}

/// A cached token and when to stop using it.
struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Per-entry expiry: a token leaves the cache at its `refresh_at`.
struct UntilRefresh;

impl moka::Expiry<Uuid, Arc<Cached>> for UntilRefresh {
    fn expire_after_create(
        &self,
        _key: &Uuid,
        value: &Arc<Cached>,
        now: Instant,
    ) -> Option<Duration> {
        Some(value.refresh_at.saturating_duration_since(now))
    }
}

/// Obtains service tokens from the auth service for one service client, caching one per
/// tenant until [`REFRESH_MARGIN`] before it expires (concurrent callers for the same tenant
/// share one request). Cheap to clone.
#[derive(Clone)]
pub struct ServiceTokens {
    url: Arc<str>,
    client_id: Arc<str>,
    client_secret: Arc<str>,
    http: reqwest::Client,
    cache: moka::future::Cache<Uuid, Arc<Cached>>,
}

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokens")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ServiceTokens {
    /// A token source for `client_id` at the auth service `auth_url` (e.g. `http://auth:9002`).
    pub fn new(
        auth_url: &str,
        client_id: &str,
        client_secret: &str,
        http: reqwest::Client,
    ) -> Self {
        Self {
            url: format!("{}/auth/service-token", auth_url.trim_end_matches('/')).into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            http,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .expire_after(UntilRefresh)
                .build(),
        }
    }

    /// A token acting for `tenant_id`: the cached one, or a fresh one from the auth service.
    pub async fn token(&self, tenant_id: Uuid) -> Result<String, ServiceTokenError> {
        self.cache
            .try_get_with(tenant_id, self.fetch(tenant_id))
            .await
            .map(|cached| cached.token.clone())
            .map_err(|err| (*err).clone())
    }

    /// The service identity these tokens are for (e.g. `scheduler`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Drops the cached token of `tenant_id` (e.g. after a callee answered 401 to it).
    pub async fn invalidate(&self, tenant_id: Uuid) {
        self.cache.invalidate(&tenant_id).await;
    }

    /// Sends the request `build` makes as `tenant_id`'s service identity: with the tenant's
    /// token and the current trace context. A `401` (the token was revoked, or the callee
    /// rotated its keys) drops the cached token and sends once more with a fresh one. Every
    /// other answer is the caller's to read; retries of failed calls are the caller's choice,
    /// since only it knows whether the call is safe to repeat.
    pub async fn send(
        &self,
        tenant_id: Uuid,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ServiceCallError> {
        let mut refreshed = false;
        loop {
            let token = self.token(tenant_id).await?;
            let mut headers = http::HeaderMap::new();
            temponest_telemetry::http::inject_trace_context(&mut headers);
            let response = build()
                .headers(headers)
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|err| ServiceCallError::Transport(err.without_url()))?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.invalidate(tenant_id).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// `POST /auth/service-token`, retrying network errors and 5xx twice ([`QUICK_RETRY`]).
    #[tracing::instrument(skip_all, fields(client = %self.client_id, %tenant_id), err)]
    async fn fetch(&self, tenant_id: Uuid) -> Result<Arc<Cached>, ServiceTokenError> {
        let body = ServiceTokenRequest {
            client_id: self.client_id.to_string(),
            client_secret: Secret(self.client_secret.to_string()),
            tenant_id,
        };
        let mut last_error = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(QUICK_RETRY.delay(attempt - 1)).await;
            }
            let mut headers = http::HeaderMap::new();
            temponest_telemetry::http::inject_trace_context(&mut headers);
            let requested = Instant::now();
            let sent = self
                .http
                .post(&*self.url)
                .headers(headers)
                .timeout(Duration::from_secs(10))
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    let issued: ServiceTokenResponse = resp.json().await.map_err(|e| {
                        ServiceTokenError::Unavailable(format!("unreadable service token: {e}"))
                    })?;
                    let lifetime = Duration::from_secs(issued.expires_in.max(0) as u64);
                    // Short lifetimes (tests, odd configurations) keep half of it in hand.
                    let margin = REFRESH_MARGIN.min(lifetime / 2);
                    return Ok(Arc::new(Cached {
                        token: issued.access_token.0,
                        refresh_at: requested + lifetime - margin,
                    }));
                }
                Ok(resp) if resp.status().is_server_error() => {
                    last_error = format!("status {}", resp.status());
                }
                Ok(resp) => {
                    let status = resp.status();
                    let detail = resp
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|b| b["detail"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    return Err(ServiceTokenError::Rejected(format!("{status}: {detail}")));
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        Err(ServiceTokenError::Unavailable(last_error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_always_has_the_same_version_4_subject() {
        let subject = service_subject("scheduler");
        assert_eq!(subject, service_subject("scheduler"));
        assert_ne!(subject, service_subject("agents"));
        assert_eq!(subject.get_version_num(), 4);
        assert_eq!(subject.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tokens = ServiceTokens::new(
            "http://auth:9002",
            "scheduler",
            "a-very-secret-value",
            reqwest::Client::new(),
        );
        let request = ServiceTokenRequest {
            client_id: "scheduler".into(),
            client_secret: "a-very-secret-value".into(),
            tenant_id: Uuid::nil(),
        };
        for shown in [format!("{tokens:?}"), format!("{request:?}")] {
            assert!(!shown.contains("a-very-secret-value"), "{shown}");
        }
    }
}
