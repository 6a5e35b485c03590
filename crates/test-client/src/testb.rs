//! One-line calls without credentials (sign-up, login, refresh, public endpoints), the
//! counterparts of [`Api::call`] and [`Api::refused`] for requests that carry no bearer token.

use reqwest::StatusCode;
use serde_json::Value;

use super::{Api, expect_error_of, expect_json_of, split_request};

impl Api {
    /// Sends `request` (`"POST /auth/login"`) without credentials, asserts `status` and
    /// returns the JSON body.
    pub async fn call_public(&self, request: &str, body: Option<&Value>, status: u16) -> Value {
        let (method, path) = split_request(request);
        let resp = self.request(method, None, path, body).await;
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        expect_json_of(&format!("{request}: "), resp, status).await
    }

    /// Sends `request` like [`Api::call_public`] and asserts it is refused with `status` and a
    /// `detail` containing `needle` (see [`crate::expect_error`]); returns the error body.
    pub async fn refused_public(
        &self,
        request: &str,
        body: Option<&Value>,
        status: u16,
        needle: &str,
    ) -> Value {
        let (method, path) = split_request(request);
        let resp = self.request(method, None, path, body).await;
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        expect_error_of(&format!("{request}: "), resp, status, needle).await
    }
}
