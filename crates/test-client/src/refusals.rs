//! Table-driven refusals: one request line and one status, many bodies (each a field a test
//! expects to be named); a 422 that names the field it refuses; and bodies sent verbatim
//! (numbers a `Value` cannot carry), answered or refused.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::{Api, expect_error_of, expect_json_of, split_request};

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

    /// Sends `body` verbatim (see [`Api::send_raw`]) as `request` (`"POST /agents/"`) with
    /// `token`, asserts `status` and returns the JSON body.
    pub async fn call_raw(&self, token: &str, request: &str, body: &str, status: u16) -> Value {
        let (context, resp) = self.send_raw_request(token, request, body).await;
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        expect_json_of(&context, resp, status).await
    }

    /// Sends `body` verbatim as `request` like [`Api::call_raw`] and asserts the 422 naming
    /// `field` with a message containing `needle` (see [`expect_field_error`]).
    pub async fn refused_raw(
        &self,
        token: &str,
        request: &str,
        body: &str,
        field: &str,
        needle: &str,
    ) -> Value {
        let (context, resp) = self.send_raw_request(token, request, body).await;
        expect_field_error_of(&context, resp, field, needle).await
    }

    /// Sends `body` verbatim as `request`; returns the context for failure messages and the
    /// response.
    async fn send_raw_request(&self, token: &str, request: &str, body: &str) -> (String, Response) {
        let (method, path) = split_request(request);
        let resp = self.send_raw(method, token, path, body).await;
        (format!("{request}: "), resp)
    }
}

/// Asserts a 422 in the SPEC §2 shape whose `detail` names `field` and whose `errors` list has
/// an entry for `field` with a message containing `needle` (`""`: any message); returns the
/// error body.
pub async fn expect_field_error(resp: Response, field: &str, needle: &str) -> Value {
    expect_field_error_of("", resp, field, needle).await
}

/// [`expect_field_error`], with `context` (which request this is) leading any failure message.
async fn expect_field_error_of(context: &str, resp: Response, field: &str, needle: &str) -> Value {
    let body = expect_error_of(context, resp, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    assert!(
        names_field(&body, field, needle),
        "{context}no error for {field:?} mentioning {needle:?}: {body}"
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
