//! Shared state of the scheduler service and how it is built from configuration.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use temponest_auth_client::{AuthClient, ServiceTokens};
use temponest_cache::Cache;
use temponest_platform::{Context, Settings, StartupError};
use temponest_ratelimit::RateLimiter;

use crate::clock::SharedClock;
use crate::config::SchedulerConfig;
use crate::domain::agents::AgentsClient;

/// Everything handlers and the engine need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub auth: AuthClient,
    pub config: Arc<SchedulerConfig>,
    /// The agents service, called with the scheduler's service identity.
    pub agents: AgentsClient,
    pub clock: SharedClock,
}

temponest_platform::shared_handles!(AppState);

impl AppState {
    /// Builds the state from the process's shared handles, reading time from `clock` (tests
    /// drive time with a manual one). The engine is started separately:
    /// [`crate::domain::engine::start`].
    pub fn build(
        config: SchedulerConfig,
        context: &Context,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        config.validate()?;
        let timeout = Duration::from_secs(config.scheduler.request_timeout_secs);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| StartupError::config(format!("HTTP client: {e}")))?;
        let tokens = ServiceTokens::new(
            &context.platform.auth_url,
            &config.service_client_id,
            &config.service_client_secret,
            http,
        );
        let agents =
            AgentsClient::new(&config.agents_url, tokens, timeout).map_err(StartupError::config)?;
        Ok(Self {
            pool: context.pool.clone(),
            cache: context.cache.clone(),
            limiter: context.limiter.clone(),
            auth: context.auth()?,
            config: Arc::new(config),
            agents,
            clock,
        })
    }
}
