//! Calls from one TempoNest service to another, as a tenant's service identity, with one
//! policy for what an answer means and when a call is sent again. The scheduler calls the
//! agents service this way, and the agents service the knowledge service.
//!
//! - 2xx: the answer, for the caller to read.
//! - 404: [`PeerError::NotFound`].
//! - Another 4xx, or auth refusing this service's identity: [`PeerError::Rejected`]; sending
//!   the same call again cannot help.
//! - 429: sent again after the wait its `Retry-After` asks for (1 s without one, at most
//!   [`MAX_THROTTLE_WAIT`]); nothing ran.
//! - A connect error: sent again after the [`Peer::backoff`]; nothing reached the peer.
//! - 502, 503, 504 and timeouts: sent again only when the caller says the call is
//!   `repeatable`, since the peer may have acted on it.
//! - Anything else (other 5xx, a broken connection, auth unavailable):
//!   [`PeerError::Unavailable`], as is a repeated failure once the repeats are spent.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use temponest_retry::{Backoff, Jitter};
use uuid::Uuid;

use crate::service::{ServiceCallError, ServiceTokenError, ServiceTokens};

/// The longest wait a `429`'s `Retry-After` is honoured for before the call is sent again.
pub const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(5);

/// Why a call to another service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// What the call named does not exist for the tenant (404).
    #[error("{0}")]
    NotFound(String),
    /// Refused for good (a 4xx other than 404, or auth refused this service's identity):
    /// sending the same call again cannot help.
    #[error("{0}")]
    Rejected(String),
    /// Unreachable, timed out, throttled or failing (5xx), or auth unavailable: a later call
    /// may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// Another service as one caller calls it.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// How messages name it, e.g. `"agents service"`.
    pub name: &'static str,
    /// How many times a failed call is sent again at most.
    pub repeats: u32,
    /// The waits between sends (a 429 waits as it asks instead).
    pub backoff: Backoff,
}

impl Peer {
    /// `name` called at most `1 + repeats` times per call, the first repeat after about
    /// `first_wait` (between half of it and all of it), each further one after twice as long,
    /// never more than 2 s.
    pub const fn new(name: &'static str, repeats: u32, first_wait: Duration) -> Self {
        let backoff = Backoff::new(first_wait, Duration::from_secs(2), Jitter::Equal);
        Self {
            name,
            repeats,
            backoff,
        }
    }

    /// Sends the request `build` makes through `tokens` (a 401 refreshes the token once, see
    /// [`ServiceTokens::send`]) and classifies the answer as the module documentation says.
    async fn call(
        &self,
        tokens: &ServiceTokens,
        tenant: Uuid,
        repeatable: bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PeerError> {
        let mut repeat = 0u32;
        loop {
            let (failure, asked_wait) = match tokens.send(tenant, &build).await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let asked_wait =
                        (status == reqwest::StatusCode::TOO_MANY_REQUESTS).then(|| {
                            temponest_retry::retry_after(response.headers(), SystemTime::now())
                                .unwrap_or(Duration::from_secs(1))
                                .min(MAX_THROTTLE_WAIT)
                        });
                    let body = response.bytes().await.unwrap_or_default();
                    let detail = describe_error_answer(self.name, status, &body);
                    match status.as_u16() {
                        404 => return Err(PeerError::NotFound(detail)),
                        429 => (PeerError::Unavailable(detail), asked_wait),
                        502..=504 if repeatable => (PeerError::Unavailable(detail), None),
                        500..=599 => return Err(PeerError::Unavailable(detail)),
                        _ => return Err(PeerError::Rejected(detail)),
                    }
                }
                Err(ServiceCallError::Token(ServiceTokenError::Rejected(detail))) => {
                    return Err(PeerError::Rejected(format!(
                        "the auth service refused the service identity `{}`: {detail}",
                        tokens.client_id()
                    )));
                }
                Err(ServiceCallError::Token(err @ ServiceTokenError::Unavailable(_))) => {
                    return Err(PeerError::Unavailable(err.to_string()));
                }
                Err(ServiceCallError::Transport(err))
                    if err.is_connect() || (repeatable && err.is_timeout()) =>
                {
                    let failure = format!("{} unreachable: {err}", self.name);
                    (PeerError::Unavailable(failure), None)
                }
                Err(ServiceCallError::Transport(err)) => {
                    return Err(PeerError::Unavailable(format!(
                        "{} call failed: {err}",
                        self.name
                    )));
                }
            };
            if repeat >= self.repeats {
                return Err(failure);
            }
            let wait = asked_wait.unwrap_or_else(|| self.backoff.delay(repeat));
            repeat += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

/// The HTTP client of one peer service, as this service's identity. Cheap to clone.
#[derive(Clone)]
pub struct PeerClient {
    peer: Peer,
    base: Arc<str>,
    http: reqwest::Client,
    tokens: ServiceTokens,
}

impl PeerClient {
    /// A client of `peer` at `base` (e.g. `http://agents:8001`). `timeout` bounds a whole
    /// call unless the request sets its own (`None` for calls whose answers stream); a
    /// connection must be made within 5 s.
    pub fn new(
        peer: Peer,
        base: &str,
        tokens: ServiceTokens,
        timeout: Option<Duration>,
    ) -> Result<Self, reqwest::Error> {
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        if let Some(timeout) = timeout {
            http = http.timeout(timeout);
        }
        Ok(Self {
            peer,
            base: base.trim_end_matches('/').into(),
            http: http.build()?,
            tokens,
        })
    }

    /// The peer's URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the request `build` makes with this client's HTTP client as `tenant`'s service
    /// identity. `repeatable`: the call may be sent again after the peer may have received it
    /// (reads, idempotent writes); see the module documentation for what is repeated.
    pub async fn call(
        &self,
        tenant: Uuid,
        repeatable: bool,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PeerError> {
        self.peer
            .call(&self.tokens, tenant, repeatable, || build(&self.http))
            .await
    }
}

/// `"<service> answered 422 Unprocessable Entity: <detail>"` from an error answer's status and
/// body; the detail is empty when the body is not an error body.
fn describe_error_answer(service: &str, status: reqwest::StatusCode, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|body| {
            body.get("detail")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!("{service} answered {status}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_reported_by_its_detail() {
        assert_eq!(
            describe_error_answer(
                "knowledge service",
                reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"detail": "query must not be empty", "errors": []}"#
            ),
            "knowledge service answered 422 Unprocessable Entity: query must not be empty"
        );
    }

    #[test]
    fn a_body_without_a_detail_is_reported_by_its_status_alone() {
        for body in [&b"<html>bad gateway</html>"[..], b"", br#"{"detail": 3}"#] {
            assert_eq!(
                describe_error_answer("agents service", reqwest::StatusCode::BAD_GATEWAY, body),
                "agents service answered 502 Bad Gateway: ",
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
