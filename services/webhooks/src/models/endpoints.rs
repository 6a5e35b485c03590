//! API types of webhook endpoints: `WebhookIn`, `WebhookPatch`, `WebhookOut` and their
//! validation into an [`EndpointSpec`].

use std::collections::HashSet;

use axum::http::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_netguard::{BlockReason, GuardError, NetPolicy};
use temponest_outbox::catalogue;
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::endpoints::EndpointRow;
use crate::models::events::is_application_type;

const MAX_NAME: usize = 200;
const MAX_URL: usize = 2_048;
const MAX_EVENTS: usize = 100;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE: usize = 1_024;
const DEFAULT_MAX_RETRIES: i32 = 3;
const DEFAULT_RETRY_DELAY: i32 = 60;

/// Header names a user may not set: hop-by-hop headers, headers the sender computes and the
/// Standard Webhooks headers (`webhook-*`, checked separately).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryConfig {
    /// Retries after the first attempt (0–20).
    pub max_retries: i32,
    /// Base delay of the exponential backoff (1–86400 s).
    pub retry_delay_seconds: i32,
}

/// Retry settings in a request: fields not sent keep their default (create) or current value
/// (patch).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RetryConfigIn {
    /// Default 3, 0–20.
    pub max_retries: Option<i32>,
    /// Default 60, 1–86400.
    pub retry_delay_seconds: Option<i32>,
}

/// `POST /webhooks/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookIn {
    pub name: String,
    /// `http` or `https` URL deliveries are POSTed to.
    pub url: String,
    /// Event types, `*` for all of them.
    pub events: Vec<String>,
    /// Your own signing secret (`whsec_<base64>`, 24 to 64 bytes); generated if absent.
    pub secret: Option<String>,
    /// Static headers sent with every delivery (string values).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    #[serde(default)]
    pub retry_config: Option<RetryConfigIn>,
    /// Default true.
    pub is_active: Option<bool>,
}

temponest_web::patch! {
    /// `PATCH /webhooks/{id}`: only the fields sent change (`null` is the same as absent).
    #[derive(Debug, Default, Deserialize, ToSchema)]
    pub struct WebhookPatch {
        pub name: Option<String>,
        pub url: Option<String>,
        pub events: Option<Vec<String>>,
        #[schema(value_type = Option<Object>)]
        pub headers: Option<serde_json::Value>,
        pub retry_config: Option<RetryConfigIn>,
        /// Setting it to true also re-enables an endpoint the service disabled.
        pub is_active: Option<bool>,
    }
}

/// A webhook endpoint as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookOut {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    pub retry_config: RetryConfig,
    /// Why the service disabled the endpoint (410 Gone, persistent failure), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookOut {
    /// The endpoint as a caller without `webhooks:manage` sees it: custom header names are
    /// shown, their values (often the receiver's credentials) are not.
    pub fn for_reader(mut self, can_manage: bool) -> Self {
        if !can_manage && let serde_json::Value::Object(headers) = &mut self.headers {
            for value in headers.values_mut() {
                *value = serde_json::Value::String(REDACTED.to_owned());
            }
        }
        self
    }
}

/// What a header value is replaced with for readers.
pub const REDACTED: &str = "[redacted]";

/// The response to `POST /webhooks/`: the endpoint and, this once, its signing secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    /// `whsec_<base64>`: configure your verifier with it. Only shown here and on rotation.
    pub secret: String,
}

/// A new signing secret (`POST /webhooks/{id}/rotate-secret`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretOut {
    pub secret: String,
}

temponest_web::from_row! { row: EndpointRow => WebhookOut {
    id, tenant_id, name, url, events, is_active, headers, disabled_reason, created_at,
    updated_at;
    retry_config: RetryConfig {
        max_retries: row.max_retries,
        retry_delay_seconds: row.retry_delay_seconds,
    },
} }

/// A validated endpoint definition (create, or the result of applying a patch).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub headers: serde_json::Value,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub is_active: bool,
}

impl WebhookIn {
    /// The validated definition and the secret's bytes (given or generated).
    pub fn validate(self, policy: &NetPolicy) -> Result<(EndpointSpec, Vec<u8>), ApiError> {
        let retry = self.retry_config.unwrap_or_default();
        let spec = EndpointSpec {
            name: self.name,
            url: self.url,
            events: self.events,
            headers: self.headers.unwrap_or_else(|| serde_json::json!({})),
            max_retries: retry.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            retry_delay_seconds: retry.retry_delay_seconds.unwrap_or(DEFAULT_RETRY_DELAY),
            is_active: self.is_active.unwrap_or(true),
        };
        let mut errors = Vec::new();
        let secret = match self.secret.as_deref().map(str::trim) {
            None | Some("") => crate::domain::signing::new_secret(),
            Some(text) => crate::domain::signing::parse_secret(text).unwrap_or_else(|message| {
                errors.push(FieldError::new("secret", message.to_string()));
                Vec::new()
            }),
        };
        let spec = spec.validated(policy, errors)?;
        Ok((spec, secret))
    }
}

impl WebhookPatch {
    /// Applies the sent fields to `current` and validates the result.
    pub fn apply(self, current: &WebhookOut, policy: &NetPolicy) -> Result<EndpointSpec, ApiError> {
        let retry = self.retry_config.unwrap_or_default();
        EndpointSpec {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            url: self.url.unwrap_or_else(|| current.url.clone()),
            events: self.events.unwrap_or_else(|| current.events.clone()),
            headers: self.headers.unwrap_or_else(|| current.headers.clone()),
            max_retries: retry
                .max_retries
                .unwrap_or(current.retry_config.max_retries),
            retry_delay_seconds: retry
                .retry_delay_seconds
                .unwrap_or(current.retry_config.retry_delay_seconds),
            is_active: self.is_active.unwrap_or(current.is_active),
        }
        .validated(policy, Vec::new())
    }
}

impl EndpointSpec {
    fn validated(
        mut self,
        policy: &NetPolicy,
        mut errors: Vec<FieldError>,
    ) -> Result<Self, ApiError> {
        self.name = self.name.trim().to_owned();
        self.url = self.url.trim().to_owned();
        if self.name.is_empty() {
            errors.push(FieldError::new("name", "must not be empty"));
        } else if self.name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "name",
                format!("must be at most {MAX_NAME} characters"),
            ));
        }
        if let Err(refused) = check_url(policy, &self.url) {
            errors.push(FieldError::new("url", refused.to_string()));
        }
        match check_events(&self.events) {
            Ok(events) => self.events = events,
            Err(mut found) => errors.append(&mut found),
        }
        match check_headers(&self.headers) {
            Ok(headers) => self.headers = headers,
            Err(mut found) => errors.append(&mut found),
        }
        if !(0..=20).contains(&self.max_retries) {
            errors.push(FieldError::new(
                "retry_config.max_retries",
                "must be between 0 and 20",
            ));
        }
        if !(1..=86_400).contains(&self.retry_delay_seconds) {
            errors.push(FieldError::new(
                "retry_config.retry_delay_seconds",
                "must be between 1 and 86400",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Why a delivery URL is refused (the message is the API's field error).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_URL} characters")]
    TooLong,
    #[error("destination not allowed: {ip} is {reason}; deliveries only go to public addresses")]
    Blocked {
        ip: std::net::IpAddr,
        reason: BlockReason,
    },
    /// Malformed, or not acceptable for outbound use (the guard's own message).
    #[error(transparent)]
    Guard(#[from] GuardError),
}

/// An acceptable delivery URL: http(s), a host, no credentials, not a refused IP literal.
/// Host names are resolved (and checked again) when delivering.
fn check_url(policy: &NetPolicy, url: &str) -> Result<(), UrlError> {
    if url.is_empty() {
        return Err(UrlError::Empty);
    }
    if url.len() > MAX_URL {
        return Err(UrlError::TooLong);
    }
    match policy.check_url(url) {
        Ok(_) => Ok(()),
        Err(GuardError::Blocked { ip, reason }) => Err(UrlError::Blocked { ip, reason }),
        Err(other) => Err(other.into()),
    }
}

/// Every subscribed type is `*`, a catalogue type or an application's own type (outside the
/// platform namespaces). Returns the list without duplicates, in the order given.
fn check_events(events: &[String]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if events.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must list at least one event type",
        ));
    }
    if events.len() > MAX_EVENTS {
        errors.push(FieldError::new(
            "events",
            format!("at most {MAX_EVENTS} event types"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let event = event.trim();
        let ok = event == "*" || catalogue::is_known(event);
        if !ok && catalogue::is_reserved(event) {
            errors.push(FieldError::new(
                "events",
                format!(
                    "unknown event type '{event}' (known: {})",
                    catalogue::EVENT_TYPES
                        .iter()
                        .map(|e| e.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if !ok && !is_application_type(event) {
            errors.push(FieldError::new(
                "events",
                format!(
                    "'{event}' is not an event type: use '*', a type from GET /webhooks/events \
                     or your own dotted lowercase type such as 'order.paid'"
                ),
            ));
        } else if seen.insert(event.to_owned()) {
            out.push(event.to_owned());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A JSON object of valid header names (lower-cased) to string values, none reserved.
fn check_headers(headers: &serde_json::Value) -> Result<serde_json::Value, Vec<FieldError>> {
    let Some(map) = headers.as_object() else {
        return Err(vec![FieldError::new(
            "headers",
            "must be an object of header names to string values",
        )]);
    };
    let mut errors = Vec::new();
    if map.len() > MAX_HEADERS {
        errors.push(FieldError::new(
            "headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut out = serde_json::Map::new();
    for (name, value) in map {
        let field = format!("headers.{name}");
        let lower = name.to_ascii_lowercase();
        if HeaderName::from_bytes(lower.as_bytes()).is_err() {
            errors.push(FieldError::new(field, "is not a valid header name"));
            continue;
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("webhook-") {
            errors.push(FieldError::new(
                field,
                "is set by the service and cannot be configured",
            ));
            continue;
        }
        let Some(text) = value.as_str() else {
            errors.push(FieldError::new(field, "must be a string"));
            continue;
        };
        if text.len() > MAX_HEADER_VALUE || HeaderValue::from_str(text).is_err() {
            errors.push(FieldError::new(
                field,
                format!("must be at most {MAX_HEADER_VALUE} visible ASCII characters"),
            ));
            continue;
        }
        if out.insert(lower, value.clone()).is_some() {
            errors.push(FieldError::new(
                field,
                "is set twice (names are case-insensitive)",
            ));
        }
    }
    if errors.is_empty() {
        Ok(serde_json::Value::Object(out))
    } else {
        Err(errors)
    }
}

/// `GET /webhooks/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookFilter {
    pub is_active: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_accept_the_wildcard_catalogue_and_application_types_only() {
        let ok = check_events(&["*".into(), "agent.created".into(), "order.paid".into()]);
        assert_eq!(ok.unwrap(), vec!["*", "agent.created", "order.paid"]);
        assert!(check_events(&["agent.exploded".into()]).is_err());
        assert!(check_events(&["Order.Paid".into()]).is_err());
        assert!(check_events(&["order".into()]).is_err());
        assert!(check_events(&[]).is_err());
        let deduplicated = check_events(&["a.b".into(), "a.b".into()]).unwrap();
        assert_eq!(deduplicated, vec!["a.b"]);
    }

    #[test]
    fn headers_must_be_strings_and_not_reserved() {
        assert_eq!(
            check_headers(&json!({"X-Token": "abc"})).unwrap(),
            json!({"x-token": "abc"})
        );
        for bad in [
            json!({"Host": "x"}),
            json!({"content-length": "1"}),
            json!({"webhook-id": "x"}),
            json!({"x-n": 1}),
            json!({"bad name": "x"}),
            json!({"x-a": "line\nbreak"}),
            json!(["x"]),
        ] {
            assert!(check_headers(&bad).is_err(), "{bad} is refused");
        }
    }
}
