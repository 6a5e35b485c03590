//! Shared state of the scheduler service and how it is built from configuration.

use std::sync::Arc;
use std::time::Duration;

use temponest_auth_client::ServiceTokens;
use temponest_platform::{Context, Settings, StartupError};

use crate::clock::SharedClock;
use crate::config::SchedulerConfig;
use crate::domain::agents::AgentsClient;

temponest_platform::service_state! {
    /// Everything handlers and the engine need; cheap to clone.
    pub struct AppState => AppStateFields {
        pub config: Arc<SchedulerConfig>,
        /// The agents service, called with the scheduler's service identity.
        pub agents: AgentsClient,
        pub clock: SharedClock,
    }
}

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
            config.service_client_secret.expose(),
            http,
        );
        let agents =
            AgentsClient::new(&config.agents_url, tokens, timeout).map_err(StartupError::config)?;
        Ok(temponest_platform::with_shared!(
            context,
            AppStateFields {
                config: Arc::new(config),
                agents,
                clock,
            }
        ))
    }
}
