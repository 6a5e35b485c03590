//! Spawning the webhooks service (with auth and agents in the same process, as `temponest
//! serve` runs them) and talking to it.

use std::net::SocketAddr;
use std::ops::Deref;

use sqlx::PgPool;
use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};
use temponest_web::health::Health;

pub use temponest_test_client::{Api, PASSWORD, eventually, expect_error, expect_json};
use temponest_webhooks::domain::engine::{self, Engine};
use temponest_webhooks::{AppState, WebhooksConfig};

/// A running app.
pub struct TestApp {
    pub api: Api,
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
        api: Api::new(format!("http://{addr}")),
        pool,
        state,
        engine,
    }
}

impl TestApp {}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
