//! Shared state of the webhooks service and how it is built from configuration.

use std::sync::Arc;

use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_netguard::NetPolicy;
use temponest_platform::{Context, Settings, StartupError};
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

temponest_platform::shared_handles!(AppState);

impl AppState {
    /// Builds the state from the process's shared handles (the engine is started separately:
    /// [`crate::domain::engine::start`]).
    pub fn build(config: WebhooksConfig, context: &Context) -> Result<Self, StartupError> {
        config.validate()?;
        let policy = NetPolicy::parse(&config.webhooks.allowed_networks)
            .map_err(|e| StartupError::config(format!("WEBHOOKS_ALLOWED_NETWORKS: {e}")))?;
        let sealer =
            crate::domain::sealing::from_config(&config.webhooks).map_err(StartupError::config)?;
        if !sealer.seals() {
            tracing::warn!(
                "webhook signing secrets are stored unsealed: set TEMPONEST_WEBHOOKS__SECRET_KEY \
                 (base64 of 32 random bytes) to seal them at rest"
            );
        }
        Ok(Self {
            pool: context.pool.clone(),
            cache: context.cache.clone(),
            limiter: context.limiter.clone(),
            auth: context.auth()?,
            config: Arc::new(config),
            policy,
            sealer: Arc::new(sealer),
        })
    }
}
