//! Spawning the webhooks service (with auth and agents in the same process, as `temponest
//! serve` runs them) and talking to it.

use std::net::SocketAddr;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};
use temponest_web::health::Health;
use temponest_webhooks::domain::engine::{self, Engine};
use temponest_webhooks::{AppState, WebhooksConfig};

pub const PASSWORD: &str = "correct horse battery staple";

/// A running app.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub pool: PgPool,
    pub state: AppState,
    /// The delivery engine (None when the test starts its own).
    pub engine: Option<Engine>,
}

/// The test configuration: deliveries to loopback allowed, fast polling and retries.
pub fn config() -> WebhooksConfig {
    let mut config = WebhooksConfig::default();
    config.webhooks.allowed_networks = "127.0.0.0/8,::1/128".into();
    config.webhooks.poll_interval_ms = 100;
    config.webhooks.timeout_secs = 2;
    config.webhooks.lease_secs = 5;
    // Small caps, so the fairness tests can saturate them.
    config.webhooks.per_endpoint_concurrency = 4;
    config.webhooks.per_tenant_concurrency = 16;
    config
}

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, config(), true).await
}

/// Starts auth + agents + webhooks on one router; `with_engine` also starts the dispatcher
/// and sender.
pub async fn spawn_with(pool: PgPool, config: WebhooksConfig, with_engine: bool) -> TestApp {
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
        argon2_memory_kib: 8 * 1024,
        argon2_iterations: 1,
        ..temponest_auth::AuthConfig::default()
    };
    let auth =
        temponest_auth::AppState::build(auth_config, pool.clone(), cache.clone(), limiter.clone())
            .await
            .expect("auth state builds");
    let agents = temponest_agents::AppState::build(
        temponest_agents::AgentsConfig::default(),
        pool.clone(),
        cache.clone(),
        limiter.clone(),
        auth.auth.clone(),
    )
    .expect("agents state builds");
    let state = AppState::build(
        config,
        pool.clone(),
        cache,
        limiter.clone(),
        auth.auth.clone(),
    )
    .expect("webhooks state builds");
    let health = Health::new(&["auth", "agents", "webhooks"], pool.clone(), vec![]);
    health.mark_migrated();
    let server = state.config.server.clone();
    let router = temponest_auth::routes(auth.clone())
        .merge(temponest_agents::routes(agents))
        .merge(temponest_webhooks::routes(state.clone()));
    let router = temponest_idempotency::layer(
        router,
        temponest_idempotency::Idempotency::new(pool.clone()),
    )
    .merge(health.router());
    let router = temponest_auth_client::protect(router, auth.auth.clone(), limiter);
    let app = temponest_web::server::with_route_layers(router, &server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        temponest_web::serve(listener, app, &server, std::future::pending()).await
    });
    let engine = with_engine.then(|| engine::start(state.clone()));
    TestApp {
        base: format!("http://{addr}"),
        http: Client::builder().no_gzip().build().unwrap(),
        pool,
        state,
        engine,
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
    body
}

/// Repeats `probe` until it returns true, for at most 15 s. Each probe does real I/O.
pub async fn eventually<F, Fut>(mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while !probe().await {
            tokio::task::yield_now().await;
        }
    })
    .await
    .is_ok()
}
