//! Spawning the agents service (with the auth service in the same process, as `temponest
//! serve` runs them) and talking to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Deref;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::{AgentsConfig, AppState};
use temponest_cache::{Cache, CacheConfig};
use temponest_llm::{ProviderConfig, ProviderKind, Providers};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};
use temponest_web::health::Health;

pub use temponest_test_client::{Api, PASSWORD, eventually, expect_error, expect_json};

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
        api: Api::new(format!("http://{addr}")),
        pool,
        state,
    }
}

impl TestApp {
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

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
