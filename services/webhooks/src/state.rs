//! Shared state of the webhooks service and how it is built from configuration.

use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_netguard::NetPolicy;
use temponest_ratelimit::RateLimiter;

use crate::config::WebhooksConfig;
use crate::domain::sealing::Sealer;

/// Everything handlers and the delivery engine need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub auth: AuthClient,
    pub config: Arc<WebhooksConfig>,
    /// Where deliveries may go (SSRF guard with the configured allow-list).
    pub policy: NetPolicy,
    /// Signing secrets at rest.
    pub sealer: Arc<Sealer>,
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
    /// Builds the state on an already migrated database (the engine is started separately:
    /// [`crate::domain::engine::start`]).
    pub fn build(
        config: WebhooksConfig,
        pool: PgPool,
        cache: Cache,
        limiter: RateLimiter,
        auth: AuthClient,
    ) -> Result<Self, StartupError> {
        config.validate().map_err(StartupError::Config)?;
        let policy = NetPolicy::parse(&config.webhooks.allowed_networks)
            .map_err(|e| StartupError::Config(format!("WEBHOOKS_ALLOWED_NETWORKS: {e}")))?;
        let sealer = crate::domain::sealing::from_config(&config.webhooks)
            .map_err(|e| StartupError::Config(e.to_string()))?;
        if !sealer.seals() {
            tracing::warn!(
                "webhook signing secrets are stored unsealed: set TEMPONEST_WEBHOOKS__SECRET_KEY \
                 (base64 of 32 random bytes) to seal them at rest"
            );
        }
        Ok(Self {
            pool,
            cache,
            limiter,
            auth,
            config: Arc::new(config),
            policy,
            sealer: Arc::new(sealer),
        })
    }
}
