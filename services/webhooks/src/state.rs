//! Shared state of the webhooks service and how it is built from configuration.

use std::sync::Arc;

use temponest_netguard::NetPolicy;
use temponest_platform::{Context, Settings, StartupError};

use crate::config::WebhooksConfig;
use crate::domain::sealing::Sealer;
use crate::domain::sender::LocalEngine;

temponest_platform::service_state! {
    /// Everything handlers and the delivery engine need; cheap to clone.
    pub struct AppState => AppStateFields {
        pub config: Arc<WebhooksConfig>,
        /// Where deliveries may go (SSRF guard with the configured allow-list).
        pub policy: NetPolicy,
        /// Signing secrets at rest.
        pub sealer: Arc<Sealer>,
        /// This process's delivery engine, for `POST /events` to hand deliveries to.
        pub engine: LocalEngine,
    }
}

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
        Ok(temponest_platform::with_shared!(
            context,
            AppStateFields {
                config: Arc::new(config),
                policy,
                sealer: Arc::new(sealer),
                engine: LocalEngine::default(),
            }
        ))
    }
}
