//! Shared state of the scheduler service and how it is built from configuration.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use sqlx::PgPool;
use temponest_auth_client::{AuthClient, ServiceTokens};
use temponest_cache::Cache;
use temponest_ratelimit::RateLimiter;

use crate::clock::{SharedClock, SystemClock};
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

impl FromRef<AppState> for AuthClient {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for RateLimiter {
    fn from_ref(state: &AppState) -> Self {
        state.limiter.clone()
    }
}

/// Errors while building the state (start-up).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
}

impl From<temponest_web::bootstrap::BootstrapError> for StartupError {
    fn from(err: temponest_web::bootstrap::BootstrapError) -> Self {
        Self::Config(err.0)
    }
}

impl AppState {
    /// Builds the state on an already migrated database with the system clock (the engine
    /// is started separately: [`crate::domain::engine::start`]).
    pub fn build(
        config: SchedulerConfig,
        pool: PgPool,
        cache: Cache,
        limiter: RateLimiter,
        auth: AuthClient,
    ) -> Result<Self, StartupError> {
        Self::build_with_clock(config, pool, cache, limiter, auth, Arc::new(SystemClock))
    }

    /// [`AppState::build`] with a chosen clock (tests drive time with a manual one).
    pub fn build_with_clock(
        config: SchedulerConfig,
        pool: PgPool,
        cache: Cache,
        limiter: RateLimiter,
        auth: AuthClient,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        config.validate().map_err(StartupError::Config)?;
        let timeout = Duration::from_secs(config.scheduler.request_timeout_secs);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| StartupError::Config(format!("HTTP client: {e}")))?;
        let tokens = ServiceTokens::new(
            &config.auth_url,
            &config.service_client_id,
            &config.service_client_secret,
            http,
        );
        let agents = AgentsClient::new(&config.agents_url, tokens, timeout)
            .map_err(|e| StartupError::Config(e.to_string()))?;
        Ok(Self {
            pool,
            cache,
            limiter,
            auth,
            config: Arc::new(config),
            agents,
            clock,
        })
    }
}
