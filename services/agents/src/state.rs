//! Shared state of the agents service and how it is built from configuration.

use std::sync::Arc;

use temponest_auth_client::ServiceTokens;
use temponest_llm::Providers;
use temponest_platform::{Context, Settings, StartupError};
use uuid::Uuid;

use crate::config::{AgentsConfig, SERVICE_CLIENT_ID};
use crate::domain::collaboration::Sessions;
use crate::domain::execution::feed::ExecutionFeed;
use crate::domain::knowledge::KnowledgeClient;
use crate::domain::pricing::PriceTable;
use crate::domain::runs::Runs;
use crate::domain::tools::Tools;
use crate::models::Known;

temponest_platform::service_state! {
    /// Everything handlers need; cheap to clone.
    pub struct AppState => AppStateFields {
        pub config: Arc<AgentsConfig>,
        pub providers: Providers,
        pub tools: Tools,
        /// The knowledge service (None when `knowledge_url` is empty).
        pub knowledge: Option<KnowledgeClient>,
        pub prices: Arc<PriceTable>,
        /// Executions running in this process.
        pub runs: Runs,
        /// Collaboration sessions driven by this process.
        pub sessions: Sessions,
        /// Every execution change of the platform, for `GET /executions/events`.
        pub feed: ExecutionFeed,
        /// Identifies this process as the owner of the executions it runs.
        pub instance_id: Uuid,
        provider_names: Arc<Vec<String>>,
        tool_names: Arc<Vec<&'static str>>,
    }
}

impl AppState {
    /// Builds the state on an already migrated database and starts the execution lifecycle
    /// tasks (heartbeat, abandoned sweep, cancellation listener, execution feed).
    pub fn build(config: AgentsConfig, context: &Context) -> Result<Self, StartupError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| StartupError::config(format!("HTTP client: {e}")))?;
        let providers = Providers::from_config(&config.providers, http)
            .map_err(|e| StartupError::config(format!("TEMPONEST_PROVIDERS: {e}")))?;
        let tools = Tools::builtin(&config.tools).map_err(StartupError::config)?;
        let knowledge = if config.knowledge_url.is_empty() {
            None
        } else {
            let tokens = ServiceTokens::new(
                &context.platform.auth_url,
                SERVICE_CLIENT_ID,
                config.service_client_secret.expose(),
                reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .map_err(|e| StartupError::config(format!("HTTP client: {e}")))?,
            );
            Some(
                KnowledgeClient::new(&config.knowledge_url, tokens)
                    .map_err(|e| StartupError::config(format!("knowledge HTTP client: {e}")))?,
            )
        };
        let provider_names = Arc::new(providers.names());
        let tool_names = Arc::new(tools.names());
        let state: Self = temponest_platform::with_shared!(
            context,
            AppStateFields {
                config: Arc::new(config),
                providers,
                tools,
                knowledge,
                prices: Arc::new(PriceTable::shipped()),
                runs: Runs::default(),
                sessions: Sessions::default(),
                feed: ExecutionFeed::default(),
                instance_id: Uuid::new_v4(),
                provider_names,
                tool_names,
            }
        );
        crate::domain::lifecycle::spawn(&state);
        Ok(state)
    }

    /// The provider and tool names agents are validated against.
    pub fn known(&self) -> Known<'_> {
        Known {
            providers: &self.provider_names,
            tools: &self.tool_names,
        }
    }
}
