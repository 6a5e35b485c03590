//! Spawning the webhooks service (with auth and agents in the same process, as `temponest
//! serve` runs them) and talking to it.

use std::ops::Deref;

use sqlx::PgPool;

pub use temponest_test_client::{Api, Harness, Session, eventually, expect_error, expect_json};
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

/// Starts auth + agents + webhooks as one process; `with_engine` also starts the dispatcher
/// and sender (kept by the test, which may stop it).
pub async fn spawn_with(pool: PgPool, mut config: WebhooksConfig, with_engine: bool) -> TestApp {
    config.webhooks.run_engine = false;
    let app = Harness::new(pool)
        .await
        .spawn([
            temponest_auth::service(temponest_auth::AuthConfig::default().with_fast_hashing()),
            temponest_agents::service(temponest_agents::AgentsConfig::default()),
            temponest_webhooks::service(config),
        ])
        .await;
    let state: AppState = app.state();
    let engine = with_engine.then(|| engine::start(state.clone()));
    TestApp {
        api: app.api.clone(),
        pool: app.pool.clone(),
        state,
        engine,
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
