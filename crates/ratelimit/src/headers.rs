//! Rate-limit headers and the 429 response (SPEC §2).
//!
//! Every limited response carries both header families clients know:
//! - the widely deployed `X-RateLimit-Limit` / `-Remaining` / `-Reset` (of the most restrictive
//!   policy, reset in whole seconds rounded up);
//! - IETF draft-ietf-httpapi-ratelimit-headers-11: `RateLimit-Policy` listing every policy
//!   (`"minute";q=60;w=60, "hour";q=1000;w=3600`) and `RateLimit` for the most restrictive one
//!   (`"minute";r=59;t=1`).
//!
//! Denials add an integer `Retry-After` (at least 1).

use std::fmt::Write as _;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::json;

use crate::policy::{Decision, ceil_secs};

/// `X-RateLimit-Limit`: quota of the most restrictive policy.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: requests left under the most restrictive policy.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`: whole seconds until the most restrictive policy is fully reset.
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// `RateLimit-Policy` (IETF draft 11): every policy applied to the request.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (IETF draft 11): the state of the most restrictive policy.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

impl Decision {
    /// Whole seconds a denied client should wait (at least 1); `None` when allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        (!self.allowed).then(|| ceil_secs(self.retry_after.unwrap_or_default()).max(1))
    }

    /// Sets the rate-limit headers (and `Retry-After` when denied). Does nothing when no policy
    /// applied.
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        let Some(state) = self.most_restrictive() else {
            return;
        };
        let reset = ceil_secs(state.reset_after);
        headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(state.policy.quota));
        headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(state.remaining));
        headers.insert(X_RATELIMIT_RESET, HeaderValue::from(reset));

        // Each value is written into one buffer and handed to the header without a copy.
        let mut policies = String::with_capacity(32 * self.policies.len());
        for (i, s) in self.policies.iter().enumerate() {
            if i > 0 {
                policies.push_str(", ");
            }
            let window = ceil_secs(s.policy.window).max(1);
            push_sf_string(&mut policies, &s.policy.name);
            let _ = write!(policies, ";q={};w={window}", s.policy.quota);
        }
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(policies)) {
            headers.insert(RATELIMIT_POLICY, value);
        }
        let mut current = String::with_capacity(32);
        push_sf_string(&mut current, &state.policy.name);
        let _ = write!(current, ";r={};t={reset}", state.remaining);
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(current)) {
            headers.insert(RATELIMIT, value);
        }
        if let Some(seconds) = self.retry_after_secs() {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
    }

    /// 429 response: JSON body `{"detail", "code": "rate_limited", "status": 429, "request_id",
    /// "violated_policies"}`, content type `application/json`, and every header of
    /// [`Decision::apply_headers`] including an integer `Retry-After`.
    pub fn rejection(&self, request_id: Option<&str>) -> Response {
        let seconds = self.retry_after_secs().unwrap_or(1);
        let unit = if seconds == 1 { "second" } else { "seconds" };
        let violated: Vec<&str> = self
            .violated_policies()
            .map(|state| &*state.policy.name)
            .collect();
        let body = json!({
            "detail": format!("Rate limit exceeded. Try again in {seconds} {unit}."),
            "code": "rate_limited",
            "status": 429,
            "request_id": request_id,
            "violated_policies": violated,
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        self.apply_headers(response.headers_mut());
        if !response.headers().contains_key(RETRY_AFTER) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A structured-field string (RFC 8941): quoted, `\` and `"` escaped, non-printable-ASCII
/// characters dropped (they cannot be represented).
#[cfg(test)]
fn sf_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_sf_string(&mut out, value);
    out
}

/// Appends `value` as a structured-field string: quoted, `"` and `\` escaped, anything
/// outside printable ASCII dropped.
fn push_sf_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_field_strings_are_quoted_and_escaped() {
        assert_eq!(sf_string("minute"), r#""minute""#);
        assert_eq!(sf_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(sf_string("é\nx"), r#""x""#);
    }
}
