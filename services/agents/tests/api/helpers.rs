//! Spawning the agents service (with the auth service in the same process, as `temponest
//! serve` runs them) and talking to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::{AgentsConfig, AppState};
use temponest_cache::{Cache, CacheConfig};
use temponest_llm::{ProviderConfig, ProviderKind, Providers};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};
use temponest_web::health::Health;

pub const PASSWORD: &str = "correct horse battery staple";

/// A running app.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub pool: PgPool,
    pub state: AppState,
}

/// A provider entry pointing at a local server.
pub fn provider(kind: ProviderKind, base_url: &str, api_key: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url: base_url.to_owned(),
        api_key: api_key.map(str::to_owned),
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

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, config(&[])).await
}

pub async fn spawn_with(pool: PgPool, config: AgentsConfig) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let prefix = format!("test-{}", uuid::Uuid::new_v4());
    let cache = Cache::connect(CacheConfig {
        redis_url: Some(
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        key_prefix: prefix.clone(),
        ..CacheConfig::default()
    })
    .await;
    let limiter = RateLimiter::new(
        RateLimitConfig {
            enabled: false,
            key_prefix: prefix,
            ..RateLimitConfig::default()
        },
        cache.redis_pool(),
    );
    let auth_config = temponest_auth::AuthConfig {
        // Cheaper hashing keeps the suite fast; production parameters are the default.
        argon2_memory_kib: 8 * 1024,
        argon2_iterations: 1,
        ..temponest_auth::AuthConfig::default()
    };
    let auth =
        temponest_auth::AppState::build(auth_config, pool.clone(), cache.clone(), limiter.clone())
            .await
            .expect("auth state builds");
    let state = AppState::build(
        config,
        pool.clone(),
        cache,
        limiter.clone(),
        auth.auth.clone(),
    )
    .expect("agents state builds");
    let health = Health::new(&["auth", "agents"], pool.clone(), vec![]);
    health.mark_migrated();
    let server = state.config.server.clone();
    let router =
        temponest_auth::routes(auth.clone()).merge(temponest_agents::routes(state.clone()));
    let router = temponest_idempotency::layer(
        router,
        temponest_idempotency::Idempotency::new(pool.clone()),
    )
    .merge(health.router());
    let router = temponest_auth_client::protect(router, auth.auth.clone(), limiter);
    let app = temponest_web::server::with_route_layers_and_long(
        router,
        &server,
        temponest_agents::LONG_ROUTES,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        temponest_web::serve(listener, app, &server, std::future::pending()).await
    });
    TestApp {
        base: format!("http://{addr}"),
        http: Client::builder().no_gzip().build().unwrap(),
        pool,
        state,
    }
}

/// A tenant admin's credentials.
#[derive(Debug, Clone)]
pub struct Session {
    pub tenant_id: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers a new tenant (its admin) and logs in.
    pub async fn signup(&self, email: &str) -> Session {
        let user = expect_json(
            self.http
                .post(self.url("/auth/register"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
            StatusCode::CREATED,
        )
        .await;
        let tokens = expect_json(
            self.http
                .post(self.url("/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        Session {
            tenant_id: user["tenant_id"].as_str().unwrap().to_owned(),
            token: tokens["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an agent and returns it.
    pub async fn agent(&self, token: &str, body: Value) -> Value {
        expect_json(
            self.post(token, "/agents/", &body).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Runs an agent synchronously and returns the execution.
    pub async fn execute(&self, token: &str, agent_id: &str, message: &str) -> Value {
        expect_json(
            self.post(
                token,
                &format!("/agents/{agent_id}/execute"),
                &json!({"user_message": message}),
            )
            .await,
            StatusCode::OK,
        )
        .await
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

/// Asserts the status and returns the JSON body.
pub async fn expect_json(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Asserts an error response: status, and a `detail` that contains `needle`.
pub async fn expect_error(resp: Response, status: StatusCode, needle: &str) -> Value {
    let body = expect_json(resp, status).await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.to_lowercase().contains(&needle.to_lowercase()),
        "detail {detail:?} lacks {needle:?}: {body}"
    );
    assert_eq!(body["status"], status.as_u16());
    body
}

/// Repeats `probe` until it returns true, for at most 10 s. Each probe does real I/O.
pub async fn eventually<F, Fut>(mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !probe().await {
            tokio::task::yield_now().await;
        }
    })
    .await
    .is_ok()
}

/// Reads a whole SSE body into (id, data) frames.
pub async fn sse_frames(resp: Response) -> Vec<(String, String)> {
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "not an event stream"
    );
    parse_sse(&resp.text().await.unwrap())
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
