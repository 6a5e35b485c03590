//! The console's client of the platform's public HTTP API. Every call carries the session's
//! access token, so tenant isolation and roles are the API's own; a 401 is answered by one
//! refresh (`POST /auth/refresh`, the rotated tokens go back into the session cookie) and a
//! retry, and a refused refresh ends the session.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use temponest_auth::models::TokenOut;

use crate::error::ConsoleError;
use crate::session::{SessionCell, SessionData};

/// `GET /auth/me`, the parts the session keeps. Not `UserOut`: permissions are kept as
/// names, so a permission a newer auth service knows (during a rolling upgrade) does not stop
/// sign-in; the console only hides buttons by them, the API decides.
#[derive(Deserialize)]
struct Me {
    email: String,
    permissions: Vec<String>,
}

/// A client of the API at one base URL.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

impl ApiClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(timeout)
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in: the tokens for `email` and `password`, and the caller's permissions.
    /// `client_ip` is passed on as `X-Forwarded-For` (the API's login limits are per client).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client_ip: Option<&str>,
        ttl_secs: u64,
    ) -> Result<SessionData, ConsoleError> {
        let mut request = self
            .http
            .post(self.url("/auth/login"))
            .json(&json!({"email": email, "password": password}));
        if let Some(ip) = client_ip {
            request = request.header("x-forwarded-for", ip);
        }
        let tokens: TokenOut = decode(request.send().await.map_err(unreachable)?).await?;
        let me: Me = decode(
            self.http
                .get(self.url("/auth/me"))
                .bearer_auth(&tokens.access_token)
                .send()
                .await
                .map_err(unreachable)?,
        )
        .await?;
        Ok(SessionData::new(
            tokens.access_token,
            tokens.refresh_token,
            me.email,
            me.permissions,
            ttl_secs,
        ))
    }

    /// Revokes the session's tokens (`POST /auth/logout`); failures are only logged, the
    /// cookie is cleared regardless.
    pub async fn sign_out(&self, session: &SessionData) {
        let sent = self
            .http
            .post(self.url("/auth/logout"))
            .bearer_auth(&session.access_token)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::UNAUTHORIZED => {
            }
            Ok(resp) => tracing::warn!(status = %resp.status(), "console sign-out: logout refused"),
            Err(err) => tracing::warn!(error = %err, "console sign-out: API unreachable"),
        }
    }

    /// Sends a request with the session's token, refreshing once on 401. The response is
    /// returned whatever its status (see [`ApiClient::json`] for the checked form).
    pub async fn send(
        &self,
        cell: &SessionCell,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, ConsoleError> {
        let session = cell.get().ok_or(ConsoleError::SignedOut)?;
        let response = self
            .attempt(&session.access_token, method.clone(), path, body)
            .await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let renewed = self.refresh(&session).await;
        let Some(renewed) = renewed else {
            cell.end();
            return Err(ConsoleError::SignedOut);
        };
        let token = renewed.access_token.clone();
        cell.renew(renewed);
        self.attempt(&token, method, path, body).await
    }

    async fn attempt(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, ConsoleError> {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(unreachable)
    }

    /// The session with rotated tokens and current permissions, or `None` when the refresh
    /// token was refused (revoked, expired, reused).
    async fn refresh(&self, session: &SessionData) -> Option<SessionData> {
        let resp = self
            .http
            .post(self.url("/auth/refresh"))
            .json(&json!({"refresh_token": session.refresh_token}))
            .send()
            .await
            .ok()?;
        let tokens: TokenOut = decode(resp).await.ok()?;
        let me: Option<Me> = match self
            .http
            .get(self.url("/auth/me"))
            .bearer_auth(&tokens.access_token)
            .send()
            .await
        {
            Ok(resp) => decode(resp).await.ok(),
            Err(_) => None,
        };
        let mut renewed = session.clone();
        renewed.access_token = tokens.access_token;
        renewed.refresh_token = tokens.refresh_token;
        if let Some(me) = me {
            renewed.permissions = me.permissions;
        }
        Some(renewed)
    }

    /// `send`, then the JSON body of a 2xx answer, or the API's error (status and `detail`).
    pub async fn json<T: DeserializeOwned>(
        &self,
        cell: &SessionCell,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ConsoleError> {
        decode(self.send(cell, method, path, body).await?).await
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        cell: &SessionCell,
        path: &str,
    ) -> Result<T, ConsoleError> {
        self.json(cell, Method::GET, path, None).await
    }

    /// `GET path` as JSON with `token` as it is, never refreshed: for a response whose headers
    /// are already sent (a live stream), where rotated tokens could not reach the cookie.
    pub async fn get_as<T: DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, ConsoleError> {
        decode(self.attempt(token, Method::GET, path, None).await?).await
    }

    /// `send`, then the 2xx response unread (a stream, or headers to read), or the API's
    /// error as in [`ApiClient::json`].
    pub async fn send_ok(
        &self,
        cell: &SessionCell,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, ConsoleError> {
        let resp = self.send(cell, method, path, body).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(api_error(resp).await)
    }

    /// A request whose answer has no body worth reading (204, or a resource the page does
    /// not show); errors as in [`ApiClient::json`].
    pub async fn call(
        &self,
        cell: &SessionCell,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), ConsoleError> {
        self.send_ok(cell, method, path, body).await.map(drop)
    }
}

fn unreachable(err: reqwest::Error) -> ConsoleError {
    ConsoleError::Unreachable(err.without_url().to_string())
}

/// The JSON body of a 2xx response, else the API's error.
async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ConsoleError> {
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    resp.json::<T>()
        .await
        .map_err(|e| ConsoleError::Unreachable(format!("unexpected answer from the API: {e}")))
}

/// The API's error answer as a console error: its status and `detail` (SPEC §2), with the
/// field errors it lists.
pub async fn api_error(resp: reqwest::Response) -> ConsoleError {
    let status = resp.status();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    let mut detail = body
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let fields: Vec<String> = body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(format!(
                "{}: {}",
                e.get("field")?.as_str()?,
                e.get("message")?.as_str()?
            ))
        })
        .collect();
    if !fields.is_empty() {
        detail = format!("{detail} ({})", fields.join("; "));
    }
    ConsoleError::Api {
        status: status.as_u16(),
        detail,
    }
}
