//! One-line calls without credentials (sign-up, login, refresh, public endpoints), the
//! counterparts of [`Api::call`] and [`Api::refused`] for requests that carry no bearer token;
//! and a tenant member with given roles, logged in.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{Api, PASSWORD, expect_error_of, expect_json_of, split_request};

impl Api {
    /// Adds `email` (password [`PASSWORD`]) with `roles` to the tenant of `admin` (asserts
    /// 201), logs them in (asserts 200) and returns their access token.
    pub async fn member(&self, admin: &str, email: &str, roles: &[&str]) -> String {
        let user = json!({"email": email, "password": PASSWORD, "roles": roles});
        self.call(admin, "POST /users", Some(&user), 201).await;
        let credentials = json!({"email": email, "password": PASSWORD});
        let tokens = self
            .call_public("POST /auth/login", Some(&credentials), 200)
            .await;
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends `request` (`"POST /auth/login"`) without credentials, asserts `status` and
    /// returns the JSON body.
    pub async fn call_public(&self, request: &str, body: Option<&Value>, status: u16) -> Value {
        let (context, resp) = self.send_public(request, body).await;
        expect_json_of(&context, resp, status_code(status)).await
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
        let (context, resp) = self.send_public(request, body).await;
        expect_error_of(&context, resp, status_code(status), needle).await
    }

    /// Sends `request` without credentials; returns the context for failure messages and
    /// the response.
    async fn send_public(&self, request: &str, body: Option<&Value>) -> (String, Response) {
        let (method, path) = split_request(request);
        let resp = self.request(method, None, path, body).await;
        (format!("{request}: "), resp)
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("an HTTP status")
}
