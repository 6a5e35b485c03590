//! One HTTP attempt: the Standard Webhooks request, sent through the SSRF guard, its result
//! classified (`timeout`, `dns`, `connect`, `tls`, `http_status`, `blocked`, `body`; `signing`
//! when no secret could be opened and nothing was sent), and the
//! retry schedule (exponential backoff with jitter, `Retry-After`).

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use temponest_netguard::{GuardError, NetPolicy, SendError, guard_error, guarded_send};
use temponest_retry::{Backoff, Jitter};

use crate::domain::signing;
use crate::models::delivery_state::ErrorClass;

/// The longest a retry is ever scheduled ahead.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// What an attempt sends.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub webhook_id: String,
    pub event_type: &'a str,
    pub event_created_at: DateTime<Utc>,
    pub payload: &'a serde_json::Value,
    pub static_headers: &'a serde_json::Value,
    pub secrets: &'a [Vec<u8>],
}

/// What an attempt produced.
#[derive(Debug, Clone)]
pub struct Result {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub status: Option<u16>,
    pub body: Option<String>,
    /// `None` on success (2xx).
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
    /// `Retry-After` of the response, as a delay from now.
    pub retry_after: Option<Duration>,
}

impl Result {
    pub fn ok(&self) -> bool {
        self.error_class.is_none()
    }
}

/// The JSON body: `{"type", "timestamp", "data"}`.
pub fn body(event_type: &str, created_at: DateTime<Utc>, payload: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": event_type,
        "timestamp": created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": payload,
    }))
    .unwrap_or_default()
}

/// An attempt that failed before anything was sent (`error_class`, `error`).
pub fn not_sent(error_class: ErrorClass, error: &str) -> Result {
    Result {
        started_at: Utc::now(),
        duration: Duration::ZERO,
        status: None,
        body: None,
        error_class: Some(error_class),
        error: Some(error.to_owned()),
        retry_after: None,
    }
}

/// Sends one attempt and reads at most `max_body` bytes of the response.
pub async fn send(
    client: &reqwest::Client,
    policy: &NetPolicy,
    out: &Outgoing<'_>,
    max_body: usize,
) -> Result {
    let started_at = Utc::now();
    let clock = Instant::now();
    let body = body(out.event_type, out.event_created_at, out.payload);
    let timestamp = started_at.timestamp();
    let signature = signing::signature_header(out.secrets, &out.webhook_id, timestamp, &body);
    let mut result = Result {
        started_at,
        duration: Duration::ZERO,
        status: None,
        body: None,
        error_class: None,
        error: None,
        retry_after: None,
    };
    let request = client
        .post(out.url)
        .headers(static_headers(out.static_headers))
        .header("content-type", "application/json")
        .header("user-agent", "TempoNest-Webhooks/1")
        .header("webhook-id", &out.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .build();
    let outcome = match request {
        Ok(request) => guarded_send(client, policy, request).await,
        Err(err) => Err(SendError::from(err)),
    };
    match outcome {
        Ok(mut response) => {
            let status = response.status();
            result.status = Some(status.as_u16());
            result.retry_after = retry_after(response.headers(), Utc::now());
            let mut captured: Vec<u8> = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = max_body.saturating_sub(captured.len());
                        captured.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if captured.len() >= max_body {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(err) => {
                        let class = if err.is_timeout() {
                            ErrorClass::Timeout
                        } else {
                            ErrorClass::Body
                        };
                        result.error_class = Some(class);
                        result.error = Some(format!("reading the response failed: {err}"));
                        break;
                    }
                }
            }
            result.body = Some(String::from_utf8_lossy(&captured).into_owned());
            if result.error_class.is_none() && !status.is_success() {
                result.error_class = Some(ErrorClass::HttpStatus);
                result.error = Some(format!("HTTP {}", status.as_u16()));
            }
        }
        Err(SendError::Guard(guard)) => {
            result.error_class = Some(guard_class(&guard));
            result.error = Some(guard.to_string());
        }
        Err(SendError::Http(err)) => {
            result.error_class = Some(http_class(&err));
            result.error = Some(chain(&err));
        }
    }
    result.duration = clock.elapsed();
    result
}

/// Headers the service sets itself; static headers cannot override them.
const RESERVED: [&str; 5] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
];

/// The endpoint's static headers (reserved, invalid names or values are skipped).
fn static_headers(headers: &serde_json::Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Some(object) = headers.as_object() {
        for (name, value) in object {
            let lower = name.to_ascii_lowercase();
            if RESERVED.contains(&lower.as_str()) || lower.starts_with("webhook-") {
                continue;
            }
            let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) else {
                continue;
            };
            map.insert(name, value);
        }
    }
    map
}

fn guard_class(guard: &GuardError) -> ErrorClass {
    match guard {
        GuardError::Resolve { .. } => ErrorClass::Dns,
        _ => ErrorClass::Blocked,
    }
}

fn http_class(err: &reqwest::Error) -> ErrorClass {
    if let Some(guard) = guard_error(err) {
        return guard_class(&guard);
    }
    if err.is_timeout() {
        return ErrorClass::Timeout;
    }
    if is_tls(err) {
        return ErrorClass::Tls;
    }
    let text = chain(err).to_lowercase();
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        ErrorClass::Tls
    } else if text.contains("dns") || text.contains("resolve") {
        ErrorClass::Dns
    } else if err.is_connect() {
        ErrorClass::Connect
    } else if err.is_body() || err.is_decode() {
        ErrorClass::Body
    } else {
        ErrorClass::Connect
    }
}

/// A TLS failure (handshake, certificate, alert) anywhere in the error's sources. (An
/// `io::Error`'s `source()` skips the error it wraps, so those are unwrapped by hand.)
fn is_tls(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<rustls::Error>() {
            return true;
        }
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

/// The error and its sources, joined.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    parts.join(": ")
}

/// `Retry-After` (seconds or an HTTP date) as a delay from `now`, at most [`MAX_BACKOFF`].
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    temponest_retry::retry_after(headers, now.into()).map(|wait| wait.min(MAX_BACKOFF))
}

/// Delay before the next attempt after `attempt_count` attempts: `retry_delay × 2^(n-1)` with
/// jitter in [50%, 100%], at least `retry_after`, capped at 24 h.
pub fn backoff(
    retry_delay_seconds: i32,
    attempt_count: i32,
    retry_after: Option<Duration>,
) -> Duration {
    let base = Duration::from_secs(retry_delay_seconds.max(1) as u64);
    let retry = attempt_count.saturating_sub(1).max(0) as u32;
    Backoff::new(base, MAX_BACKOFF, Jitter::Equal).delay_honouring(retry, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for _ in 0..50 {
            let first = backoff(60, 1, None).as_secs_f64();
            assert!((30.0..=60.0).contains(&first), "{first}");
            let third = backoff(60, 3, None).as_secs_f64();
            assert!((120.0..=240.0).contains(&third), "{third}");
            // Capped, then jittered: at most 24 h, never below half of it.
            let capped = backoff(86_400, 20, None);
            assert!(
                capped <= MAX_BACKOFF && capped >= MAX_BACKOFF / 2,
                "{capped:?}"
            );
        }
        let honoured = backoff(1, 1, Some(Duration::from_secs(30)));
        assert_eq!(honoured, Duration::from_secs(30));
        assert_eq!(
            backoff(1, 1, Some(Duration::from_secs(999_999))),
            MAX_BACKOFF
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .to_utc();
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn body_has_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let body = body("agent.created", at, &serde_json::json!({"id": 1}));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["type"], "agent.created");
        assert_eq!(value["timestamp"], "2026-01-02T03:04:05.000Z");
        assert_eq!(value["data"]["id"], 1);
    }
}
