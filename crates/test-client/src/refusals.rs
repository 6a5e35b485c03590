//! Table-driven refusals: one request line and one status, many bodies (each a field a test
//! expects to be named); and a 422 that names the field it refuses.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::{Api, expect_error};

impl Api {
    /// Sends `request` with `token` once per `(body, needle)` and asserts each is refused with
    /// `status` and a `detail` containing its needle (see [`Api::refused`]).
    pub async fn refused_bodies(
        &self,
        token: &str,
        request: &str,
        status: u16,
        cases: &[(Value, &str)],
    ) {
        for (body, needle) in cases {
            self.refused(token, request, Some(body), status, needle)
                .await;
        }
    }
}

/// Asserts a 422 in the SPEC §2 shape whose `detail` names `field` and whose `errors` list has
/// an entry for `field` with a message containing `needle` (`""`: any message); returns the
/// error body.
pub async fn expect_field_error(resp: Response, field: &str, needle: &str) -> Value {
    let body = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    assert!(
        names_field(&body, field, needle),
        "no error for {field:?} mentioning {needle:?}: {body}"
    );
    body
}

/// Whether the error body's `errors` list has an entry for `field` whose message contains
/// `needle`.
pub fn names_field(body: &Value, field: &str, needle: &str) -> bool {
    body["errors"].as_array().is_some_and(|errors| {
        errors.iter().any(|e| {
            e["field"] == field && e["message"].as_str().is_some_and(|m| m.contains(needle))
        })
    })
}
