//! Spawning the agents service (with the auth service in the same process, as `temponest
//! serve` runs them, through the kit's harness) and talking to it.

use std::collections::BTreeMap;
use std::ops::Deref;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::{AgentsConfig, AppState};
use temponest_auth::AuthConfig;
use temponest_llm::{ProviderConfig, ProviderKind, Providers};

pub use temponest_test_client::{Api, Harness, Session, eventually, expect_error, expect_json};

/// A running app.
pub struct TestApp {
    pub api: Api,
    pub pool: PgPool,
    pub state: AppState,
}

/// A provider entry pointing at a local server.
pub fn provider(kind: ProviderKind, base_url: &str, api_key: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url: base_url.to_owned(),
        api_key: api_key.map(Into::into),
        read_timeout_secs: 10,
        max_retries: 1,
        backoff_base_ms: 10,
        backoff_max_ms: 100,
        ..ProviderConfig::default()
    }
}

/// The default test configuration: echo plus whatever `providers` adds.
pub fn config(providers: &[(&str, ProviderConfig)]) -> AgentsConfig {
    let mut all: BTreeMap<String, ProviderConfig> = Providers::defaults();
    for (name, provider) in providers {
        all.insert((*name).to_owned(), provider.clone());
    }
    AgentsConfig {
        providers: all,
        ..AgentsConfig::default()
    }
}

/// The body of an agent `name` on the built-in `echo` provider with `model`.
pub fn echo_agent(name: &str, model: &str) -> Value {
    json!({"name": name, "model": model, "provider": "echo"})
}

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, config(&[])).await
}

/// The app with ada@example.com (a tenant admin) signed up: how most tests begin.
pub async fn spawn_ada(pool: PgPool) -> (TestApp, Session) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    (app, ada)
}

/// The app with ada@example.com signed up and `agent` created for her: the app, ada and the
/// agent.
pub async fn spawn_with_agent(pool: PgPool, agent: Value) -> (TestApp, Session, Value) {
    let app = spawn(pool).await;
    let (ada, agent) = app.ada_with_agent(agent).await;
    (app, ada, agent)
}

pub async fn spawn_with(pool: PgPool, config: AgentsConfig) -> TestApp {
    let app = Harness::new(pool)
        .await
        .spawn([
            temponest_auth::service(AuthConfig::default().with_fast_hashing()),
            temponest_agents::service(config),
        ])
        .await;
    TestApp {
        api: app.api.clone(),
        pool: app.pool.clone(),
        state: app.state(),
    }
}

impl TestApp {
    /// Creates an agent and returns it.
    pub async fn agent(&self, token: &str, body: Value) -> Value {
        self.create(token, "/agents/", &body).await
    }

    /// Signs up ada@example.com (a tenant admin) and creates an agent for her: how most tests
    /// begin.
    pub async fn ada_with_agent(&self, agent: Value) -> (Session, Value) {
        let admin = self.signup("ada@example.com").await;
        let agent = self.agent(&admin.token, agent).await;
        (admin, agent)
    }

    /// Creates the viewer `email` (password [`temponest_test_client::PASSWORD`]) in the tenant
    /// of `admin_token`, logs in as them and returns their access token.
    pub async fn viewer(&self, admin_token: &str, email: &str) -> String {
        self.member(admin_token, email, &["viewer"]).await
    }

    /// Cancels the execution or session at `path` (`POST {path}/cancel`), asserts 200 OK and
    /// returns it.
    pub async fn cancel(&self, token: &str, path: &str) -> Value {
        let request = format!("POST {path}/cancel");
        self.call(token, &request, Some(&json!({})), 200).await
    }

    /// Waits until the execution at `path` has failed (`what` says why the test expects it) and
    /// returns it.
    pub async fn failed_eventually(&self, token: &str, path: &str, what: &str) -> Value {
        let failed = || async { self.fetch(token, path).await["status"] == "failed" };
        assert!(eventually(failed).await, "{what}");
        self.fetch(token, path).await
    }

    /// Outbox events of a tenant, oldest first, as (type, payload).
    pub async fn events(&self, tenant_id: &str) -> Vec<(String, Value)> {
        let tenant: uuid::Uuid = tenant_id.parse().unwrap();
        sqlx::query_as::<_, (String, Value)>(
            "select event_type, payload from platform.outbox where tenant_id = $1 order by id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The types of a tenant's outbox events, oldest first.
    pub async fn event_types(&self, tenant_id: &str) -> Vec<String> {
        let events = self.events(tenant_id).await;
        events
            .into_iter()
            .map(|(event_type, _)| event_type)
            .collect()
    }

    /// Cost records of an execution as JSON rows, oldest first.
    pub async fn cost_rows(&self, execution_id: &str) -> Vec<Value> {
        let id: uuid::Uuid = execution_id.parse().unwrap();
        sqlx::query_scalar::<_, Value>(
            "select to_jsonb(c) from agents.cost_records c where execution_id = $1 order by created_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// Starts a streamed run of an agent: the open SSE response and the execution id (from
/// its `x-execution-id` header).
pub async fn stream(api: &Api, token: &str, agent_id: &str, message: &str) -> (Response, String) {
    let resp = api
        .post(
            token,
            &format!("/agents/{agent_id}/execute"),
            &json!({"user_message": message, "stream": true}),
        )
        .await;
    let id = resp.headers()["x-execution-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (resp, id)
}

/// Opens the stream of execution `id` resuming after `last_event_id` (the `Last-Event-ID`
/// header, sent as given).
pub async fn resume(api: &Api, token: &str, id: &str, last_event_id: &str) -> Response {
    api.http
        .get(api.url(&format!("/executions/{id}/stream")))
        .bearer_auth(token)
        .header("Last-Event-ID", last_event_id)
        .send()
        .await
        .unwrap()
}

/// Asserts a 200 answer of type `text/event-stream`.
pub fn assert_event_stream(resp: &Response) {
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "not an event stream"
    );
}

/// Reads a whole SSE body into (id, data) frames.
pub async fn sse_frames(resp: Response) -> Vec<(String, String)> {
    assert_event_stream(&resp);
    parse_sse(&resp.text().await.unwrap())
}

/// The `content` of every frame but `[DONE]`, joined: the text a client would show.
pub fn sse_content(frames: &[(String, String)]) -> String {
    frames
        .iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| {
            serde_json::from_str::<Value>(data).unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Parses SSE text into (id, data) frames (comments and keep-alives skipped).
pub fn parse_sse(text: &str) -> Vec<(String, String)> {
    let mut frames = Vec::new();
    for block in text.split("\n\n") {
        let mut id = String::new();
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        if !data.is_empty() {
            frames.push((id, data.join("\n")));
        }
    }
    frames
}

/// A port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
