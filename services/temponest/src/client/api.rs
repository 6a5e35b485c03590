//! The HTTP side of the client: one `reqwest` client bound to the platform's base URL, the
//! caller's credentials (in order: `TEMPONEST_AUTH_TOKEN`, `TEMPONEST_API_KEY`, the profile's
//! API key, the profile's login session), refreshing a session's access token before it
//! expires and once more on a 401, and the API's error body turned into a [`CliError`].

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::error::{ApiFailure, CliError};
use super::profile::{Profile, Store};

/// How long before its expiry an access token is refreshed.
const REFRESH_MARGIN_SECS: i64 = 30;

/// Where a request's credentials come from (no `Debug`: it holds secrets).
pub enum Credentials {
    /// None: only public endpoints work.
    None,
    /// A fixed bearer (an access token or an API key from the environment or the profile).
    Bearer { token: String, source: &'static str },
    /// The profile's login session, refreshed as needed.
    Session,
}

/// A reply with a JSON body.
#[derive(Debug)]
pub struct Reply {
    pub body: Value,
    /// `X-Total-Count` of a list.
    pub total: Option<u64>,
}

/// The platform's API, as one user of one profile.
pub struct Api {
    pub base: String,
    pub profile_name: String,
    http: reqwest::Client,
    credentials: Credentials,
    /// The profile as stored (tokens updated on refresh).
    profile: Mutex<Profile>,
}

impl Api {
    pub fn new(
        base: String,
        profile_name: String,
        profile: Profile,
        credentials: Credentials,
    ) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("temponest-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // Frames of a stream come at least every 15 s (keep-alive); a synchronous
            // execution answers when it has finished.
            .read_timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| CliError::Transport(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            profile_name,
            http,
            credentials,
            profile: Mutex::new(profile),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Where the credentials in use come from (for `whoami`).
    pub fn credentials_source(&self) -> &'static str {
        match &self.credentials {
            Credentials::None => "none",
            Credentials::Bearer { source, .. } => source,
            Credentials::Session => "login session",
        }
    }

    /// Sends a request and returns its JSON reply; an error status becomes a [`CliError`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, CliError> {
        let response = self.send(method, path, query, body, &[]).await?;
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CliError::Transport(format!("reading the answer failed: {e}")))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CliError::Transport(format!(
                    "{} did not answer with JSON (is this a TempoNest platform?)",
                    self.base
                ))
            })?
        };
        Ok(Reply { body, total })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Reply, CliError> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        Ok(self.call(Method::POST, path, &[], Some(body)).await?.body)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        Ok(self.call(Method::PATCH, path, &[], Some(body)).await?.body)
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        Ok(self.call(Method::DELETE, path, &[], None).await?.body)
    }

    /// Sends a request with credentials (refreshing a session's token first when it is about to
    /// expire, and once more after a 401) and returns the successful response unread.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<Response, CliError> {
        if matches!(self.credentials, Credentials::None) {
            return Err(self.logged_out(&format!("not logged in to {}", self.base)));
        }
        let mut refreshed = false;
        if matches!(self.credentials, Credentials::Session) && self.token_expiring() {
            self.refresh().await?;
            refreshed = true;
        }
        loop {
            // No `?` at all without parameters (`/webhooks/?` is not `/webhooks/`).
            let url = if query.is_empty() {
                reqwest::Url::parse(&self.url(path))
            } else {
                reqwest::Url::parse_with_params(&self.url(path), query)
            }
            .map_err(|e| CliError::Usage(format!("not a valid URL: {e}")))?;
            let mut request = self.http.request(method.clone(), url);
            if let Some(body) = body {
                request = request.json(body);
            }
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if let Some(token) = self.bearer() {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| self.unreachable(&e))?;
            if response.status() == StatusCode::UNAUTHORIZED
                && matches!(self.credentials, Credentials::Session)
                && !refreshed
            {
                self.refresh().await?;
                refreshed = true;
                continue;
            }
            if response.status().is_success() {
                return Ok(response);
            }
            return Err(failure(response).await);
        }
    }

    /// Sends a request without credentials (login, refresh, health).
    pub async fn public(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, CliError> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|e| self.unreachable(&e))
    }

    fn unreachable(&self, err: &reqwest::Error) -> CliError {
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            detail.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        CliError::Transport(format!("cannot reach {}: {detail}", self.base))
    }

    fn bearer(&self) -> Option<String> {
        match &self.credentials {
            Credentials::None => None,
            Credentials::Bearer { token, .. } => Some(token.clone()),
            Credentials::Session => {
                let profile = self.profile.lock().expect("profile");
                profile.access_token.as_ref().map(|t| t.expose().to_owned())
            }
        }
    }

    fn token_expiring(&self) -> bool {
        let profile = self.profile.lock().expect("profile");
        profile.access_token.is_none()
            || profile
                .expires_at
                .is_none_or(|at| at <= Utc::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS))
    }

    /// Trades the session's refresh token for new tokens (rotation) and stores them.
    async fn refresh(&self) -> Result<(), CliError> {
        let refresh_token = self.profile.lock().expect("profile").refresh_token.clone();
        let Some(refresh_token) = refresh_token else {
            return Err(self.logged_out("the session has no refresh token"));
        };
        let response = self
            .public(
                Method::POST,
                "/auth/refresh",
                Some(&json!({ "refresh_token": refresh_token.expose() })),
            )
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let CliError::Api(failure) = failure(response).await else {
                unreachable!("an error status is an API failure")
            };
            return Err(self.logged_out(&format!("the session ended ({})", failure.detail)));
        }
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let tokens: temponest_auth::models::TokenOut = response.json().await.map_err(|e| {
            CliError::Transport(format!("the refresh answer was not understood: {e}"))
        })?;
        let updated = {
            let mut profile = self.profile.lock().expect("profile");
            store_tokens(&mut profile, &tokens);
            profile.clone()
        };
        let mut store = Store::load()?;
        let entry = store.profiles.entry(self.profile_name.clone()).or_default();
        entry.access_token = updated.access_token;
        entry.refresh_token = updated.refresh_token;
        entry.expires_at = updated.expires_at;
        store.save()
    }

    fn logged_out(&self, why: &str) -> CliError {
        CliError::NotLoggedIn(format!(
            "{why}: log in with `temponest login{}` (or set TEMPONEST_API_KEY)",
            if self.profile_name == super::profile::DEFAULT_PROFILE {
                String::new()
            } else {
                format!(" --profile {}", self.profile_name)
            }
        ))
    }
}

/// Puts a login's or a refresh's tokens into a profile.
pub fn store_tokens(profile: &mut Profile, tokens: &temponest_auth::models::TokenOut) {
    profile.access_token = Some(tokens.access_token.as_str().into());
    profile.refresh_token = Some(tokens.refresh_token.as_str().into());
    profile.expires_at = Some(Utc::now() + chrono::Duration::seconds(tokens.expires_in));
}

/// An error response as a [`CliError`]: the SPEC §2 body's `detail`, `code` and request id.
pub async fn failure(response: Response) -> CliError {
    let status = response.status();
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let detail = match &body["detail"] {
        Value::String(detail) => detail.clone(),
        Value::Null if text.trim().is_empty() => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
        Value::Null => text.trim().chars().take(500).collect(),
        other => other.to_string(),
    };
    CliError::Api(ApiFailure {
        status: status.as_u16(),
        code: body["code"].as_str().map(str::to_owned),
        detail,
        request_id: body["request_id"].as_str().map(str::to_owned).or(header_id),
    })
}
