//! Talking to a running TempoNest app in integration tests: an HTTP client bound to the app's
//! base URL, tenant sign-up, running an agent, and the assertions every service's test suite
//! uses (status and JSON body, the SPEC §2 error body, conditions awaited with a deadline
//! instead of sleeps, executed query plans read back); [`serve`] starts a test's own stand-in
//! server (a provider, a webhook receiver).
//! [`harness`] starts the platform for a test the way production does; [`embeddings`] is a
//! deterministic local embedding server (OpenAI-compatible and Ollama).
//! A dev-dependency only.

pub mod embeddings;
pub mod fixtures;
pub mod harness;
pub mod plan;
mod refusals;

pub use harness::{Harness, Spawned};
pub use refusals::{expect_field_error, names_field};
pub use reqwest::Method;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The password of every account the tests create.
pub const PASSWORD: &str = "correct horse battery staple";

/// An HTTP client for one app.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub http: Client,
}

/// One page of a collection.
#[derive(Debug, Clone)]
pub struct Page {
    /// The `x-total-count` header: matches across all pages.
    pub total: u64,
    pub items: Vec<Value>,
}

/// A tenant admin's credentials.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub tenant_id: String,
    /// The access token.
    pub token: String,
}

impl Api {
    /// A client for the app at `base` (`http://127.0.0.1:port`); responses are not
    /// decompressed, so tests see what the server sent.
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: Client::builder().no_gzip().build().expect("an HTTP client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request: with a bearer token when `token` is given, with a JSON body when
    /// `body` is.
    pub async fn request(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(Method::POST, Some(token), path, Some(body))
            .await
    }

    /// A POST without credentials (sign-up, login, refresh).
    pub async fn post_public(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, None, path, Some(body)).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.request(Method::GET, Some(token), path, None).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, Some(token), path, Some(body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.request(Method::DELETE, Some(token), path, None).await
    }

    /// A GET without a bearer token, with `headers` (health, metrics and docs; credentials
    /// or negotiation in other headers).
    pub async fn get_public(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// The Prometheus text exposition at `/metrics`.
    pub async fn metrics(&self) -> String {
        self.get_public("/metrics", &[]).await.text().await.unwrap()
    }

    /// Sends each request with `token` and asserts its SPEC §2 error (see [`expect_error`]);
    /// a failure names the request.
    pub async fn expect_refusals(&self, token: &str, refusals: &[Refusal<'_>]) {
        for (request, body, status, needle) in refusals {
            self.refused(token, request, body.as_ref(), *status, needle)
                .await;
        }
    }

    /// Sends `request` (`"POST /agents/{id}/run"`) with `token` and `body`, asserts `status`
    /// and returns the JSON body: one line for any call whose answer a test reads.
    pub async fn call(
        &self,
        token: &str,
        request: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let (method, path) = split_request(request);
        let resp = self.request(method, Some(token), path, body).await;
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        expect_json_of(&format!("{request}: "), resp, status).await
    }

    /// Sends `request` like [`Api::call`] and asserts it is refused with `status` and a
    /// `detail` containing `needle` (see [`expect_error`]); returns the error body.
    pub async fn refused(
        &self,
        token: &str,
        request: &str,
        body: Option<&Value>,
        status: u16,
        needle: &str,
    ) -> Value {
        let (method, path) = split_request(request);
        let resp = self.request(method, Some(token), path, body).await;
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        expect_error_of(&format!("{request}: "), resp, status, needle).await
    }

    /// POSTs `body` to an action (`/…/cancel`, `/…/trigger`), asserts 200 OK and returns the
    /// JSON body.
    pub async fn act(&self, token: &str, path: &str, body: &Value) -> Value {
        expect_json(self.post(token, path, body).await, StatusCode::OK).await
    }

    /// DELETEs `path` and asserts 204 No Content.
    pub async fn remove(&self, token: &str, path: &str) {
        expect_json(self.delete(token, path).await, StatusCode::NO_CONTENT).await;
    }

    /// POSTs `body`, asserts 201 Created and returns the created resource.
    pub async fn create(&self, token: &str, path: &str, body: &Value) -> Value {
        expect_json(self.post(token, path, body).await, StatusCode::CREATED).await
    }

    /// GETs one page of a collection (asserts 200 OK): its `x-total-count` and its items.
    pub async fn page(&self, token: &str, path: &str) -> Page {
        let resp = self.get(token, path).await;
        let total = resp.headers()["x-total-count"].to_str().unwrap().parse();
        let body = expect_json(resp, StatusCode::OK).await;
        Page {
            total: total.expect("a numeric x-total-count"),
            items: body.as_array().expect("a JSON array").clone(),
        }
    }

    /// PATCHes `body`, asserts 200 OK and returns the updated resource.
    pub async fn update(&self, token: &str, path: &str, body: &Value) -> Value {
        expect_json(self.patch(token, path, body).await, StatusCode::OK).await
    }

    /// GETs `path`, asserts 200 OK and returns the JSON body.
    pub async fn fetch(&self, token: &str, path: &str) -> Value {
        expect_json(self.get(token, path).await, StatusCode::OK).await
    }

    /// Sends `body` verbatim as `application/json` (for bodies a `Value` cannot express:
    /// numbers beyond `f64`, exact number spellings, malformed JSON).
    pub async fn send_raw(&self, method: Method, token: &str, path: &str, body: &str) -> Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Runs agent `agent_id` synchronously with `message` (asserts 200 OK) and returns the
    /// execution.
    pub async fn execute(&self, token: &str, agent_id: &str, message: &str) -> Value {
        let request = format!("POST /agents/{agent_id}/execute");
        let body = json!({ "user_message": message });
        self.call(token, &request, Some(&body), 200).await
    }

    /// Runs `agent` (as the API returned it) like [`Api::execute`].
    pub async fn run(&self, token: &str, agent: &Value, message: &str) -> Value {
        let agent_id = agent["id"].as_str().expect("an agent with an id");
        self.execute(token, agent_id, message).await
    }

    /// Registers a new tenant (its admin, password [`PASSWORD`]) and logs in.
    pub async fn signup(&self, email: &str) -> Session {
        let credentials = json!({"email": email, "password": PASSWORD});
        let user = expect_json(
            self.post_public("/auth/register", &credentials).await,
            StatusCode::CREATED,
        )
        .await;
        let tokens = expect_json(
            self.post_public("/auth/login", &credentials).await,
            StatusCode::OK,
        )
        .await;
        Session {
            user_id: user["id"].as_str().unwrap().to_owned(),
            tenant_id: user["tenant_id"].as_str().unwrap().to_owned(),
            token: tokens["access_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// `"METHOD /path"` split into its method and path.
fn split_request(request: &str) -> (Method, &str) {
    let (method, path) = request.split_once(' ').expect("a request line");
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    (method, path)
}

/// Asserts the status and returns the JSON body (`null` for an empty or non-JSON body).
pub async fn expect_json(resp: Response, status: StatusCode) -> Value {
    expect_json_of("", resp, status).await
}

/// [`expect_json`], with `context` (which request this is) leading any failure message.
async fn expect_json_of(context: &str, resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(actual, status, "{context}unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Asserts an error response in the SPEC §2 shape: the status, a `detail` that contains
/// `needle` (case-insensitive), `status` and a `request_id`.
pub async fn expect_error(resp: Response, status: StatusCode, needle: &str) -> Value {
    expect_error_of("", resp, status, needle).await
}

/// [`expect_error`], with `context` (which request this is) leading any failure message.
async fn expect_error_of(context: &str, resp: Response, status: StatusCode, needle: &str) -> Value {
    let body = expect_json_of(context, resp, status).await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.to_lowercase().contains(&needle.to_lowercase()),
        "{context}detail {detail:?} lacks {needle:?}: {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{context}{body}");
    assert!(
        body["request_id"].is_string(),
        "{context}error without request_id: {body}"
    );
    body
}

/// One request a test expects to be refused: the request line (`"PATCH /users/1"`), the
/// JSON body, then the status and a word of the `detail` (as [`expect_error`] checks them).
pub type Refusal<'a> = (&'a str, Option<Value>, u16, &'a str);

/// Serves `router` on a free loopback port for as long as the test's runtime runs (a stand-in
/// provider, a webhook receiver); returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// Repeats `probe` until it returns true, for at most 15 s (for effects that travel through
/// background tasks, Redis pub/sub or Postgres notifications). Each probe does real I/O, so
/// this never spins idle; false when the deadline passed.
pub async fn eventually<F, Fut>(mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(Duration::from_secs(15), async {
        while !probe().await {
            tokio::task::yield_now().await;
        }
    })
    .await
    .is_ok()
}
