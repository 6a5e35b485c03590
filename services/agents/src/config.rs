//! Agents service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_<FIELD>` with `__` for
//! nesting, e.g. `TEMPONEST_PROVIDERS__OPENAI__API_KEY`; see [`temponest_platform::config`]).
//! Where Postgres, Redis and the auth service are is the platform's
//! ([`temponest_platform::PlatformConfig`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use temponest_llm::{ProviderConfig, Providers};
use temponest_platform::{ConfigError, Secret, Settings};

/// Everything the agents service can be tuned with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentsConfig {
    /// LLM providers by the name agents refer to. Defaults: `openai`, `ollama`, `anthropic`
    /// and `echo`; add OpenAI-compatible ones (DeepSeek, vLLM, llama.cpp, LiteLLM) with
    /// `kind = "openai"` and their `base_url`.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Provider used when an agent is created without one (SPEC: "ollama").
    pub default_provider: String,
    pub tools: ToolsConfig,
    pub executions: ExecutionsConfig,
    pub collaboration: CollaborationConfig,
    /// Heartbeat of this process's instances and when a silent peer counts as dead.
    pub liveness: temponest_db::instances::Liveness,
    /// Base URL of the knowledge service (`TEMPONEST_KNOWLEDGE_URL`), which agents with
    /// `rag_collection_ids` search through the `knowledge_search` tool; empty = knowledge is
    /// not configured (agents cannot be given collections).
    pub knowledge_url: String,
    /// The secret of the agents service's identity at the auth service
    /// (`TEMPONEST_SERVICE_CLIENT_SECRET`; the auth service's `TEMPONEST_SERVICE_CLIENTS`
    /// entry `agents=...`). Required when `knowledge_url` is set.
    pub service_client_secret: Secret,
}

/// The agents service's service identity at the auth service (its client id).
pub const SERVICE_CLIENT_ID: &str = "agents";

/// Built-in tools.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolsConfig {
    /// CIDRs the `http_request` tool may reach although they are private, loopback or
    /// link-local (comma-separated; empty = none).
    pub http_allowed_networks: String,
    pub http_timeout_secs: u64,
    /// Response bodies are truncated to this many bytes before the model sees them.
    pub http_max_response_bytes: usize,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            http_allowed_networks: String::new(),
            http_timeout_secs: 10,
            http_max_response_bytes: 64 * 1024,
        }
    }
}

/// Execution lifecycle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionsConfig {
    /// An execution running longer than this fails with outcome `timed_out`.
    pub timeout_secs: u64,
    /// How often a process records that its executions are still alive.
    pub heartbeat_secs: u64,
    /// An unfinished execution whose heartbeat is older than this is marked failed
    /// (outcome `abandoned`): the process running it died.
    pub abandon_after_secs: u64,
    /// Cost records older than this many days are deleted (in batches, hourly); 0 keeps
    /// them forever.
    pub cost_retention_days: u32,
}

/// The longest cost retention that can be configured (100 years); beyond, use 0.
pub const MAX_COST_RETENTION_DAYS: u32 = 36_500;

impl Default for ExecutionsConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 600,
            heartbeat_secs: 10,
            abandon_after_secs: 60,
            cost_retention_days: 400,
        }
    }
}

/// Multi-agent collaboration sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct CollaborationConfig {
    /// Steps of one session that run at once (parallel branches, hierarchical subtasks);
    /// 1 to [`MAX_CONCURRENT_STEPS`].
    pub max_concurrent_steps: usize,
    /// How long `POST /collaboration/execute` waits for the session to end (with `wait`,
    /// the default) before answering with the session as it is (`running`); 1 to 600 s,
    /// within the long request timeout.
    pub wait_timeout_secs: u64,
    /// The most agents one session may name (1 to 100).
    pub max_agents: usize,
}

/// The highest `collaboration.max_concurrent_steps`.
pub const MAX_CONCURRENT_STEPS: usize = 64;

impl Default for CollaborationConfig {
    fn default() -> Self {
        Self {
            max_concurrent_steps: 4,
            wait_timeout_secs: 300,
            max_agents: 20,
        }
    }
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            providers: Providers::defaults(),
            default_provider: "ollama".to_owned(),
            tools: ToolsConfig::default(),
            executions: ExecutionsConfig::default(),
            collaboration: CollaborationConfig::default(),
            liveness: temponest_db::instances::Liveness::default(),
            knowledge_url: String::new(),
            service_client_secret: Secret::default(),
        }
    }
}

impl Settings for AgentsConfig {
    /// Providers are a map of named entries.
    fn open_sections() -> &'static [&'static str] {
        &["providers"]
    }

    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        self.liveness.validate().map_err(ConfigError::invalid)?;
        if !self.providers.contains_key(&self.default_provider) {
            return Err(ConfigError::invalid(format!(
                "TEMPONEST_DEFAULT_PROVIDER: no provider named '{}' is configured",
                self.default_provider
            )));
        }
        if self.executions.heartbeat_secs == 0
            || self.executions.abandon_after_secs < 3 * self.executions.heartbeat_secs
        {
            return Err(ConfigError::invalid(
                "TEMPONEST_EXECUTIONS__ABANDON_AFTER_SECS must be at least three heartbeats (TEMPONEST_EXECUTIONS__HEARTBEAT_SECS > 0)",
            ));
        }
        if self.executions.cost_retention_days > MAX_COST_RETENTION_DAYS {
            return Err(ConfigError::invalid(format!(
                "TEMPONEST_EXECUTIONS__COST_RETENTION_DAYS must be at most {MAX_COST_RETENTION_DAYS} (0 keeps cost records forever)"
            )));
        }
        let collaboration = &self.collaboration;
        if !(1..=MAX_CONCURRENT_STEPS).contains(&collaboration.max_concurrent_steps) {
            return Err(ConfigError::invalid(format!(
                "TEMPONEST_COLLABORATION__MAX_CONCURRENT_STEPS must be between 1 and {MAX_CONCURRENT_STEPS}"
            )));
        }
        if !(1..=600).contains(&collaboration.wait_timeout_secs) {
            return Err(ConfigError::invalid(
                "TEMPONEST_COLLABORATION__WAIT_TIMEOUT_SECS must be between 1 and 600",
            ));
        }
        if !(1..=100).contains(&collaboration.max_agents) {
            return Err(ConfigError::invalid(
                "TEMPONEST_COLLABORATION__MAX_AGENTS must be between 1 and 100",
            ));
        }
        temponest_netguard::NetPolicy::parse(&self.tools.http_allowed_networks).map_err(|e| {
            ConfigError::invalid(format!("TEMPONEST_TOOLS__HTTP_ALLOWED_NETWORKS: {e}"))
        })?;
        if !self.knowledge_url.is_empty() {
            if url::Url::parse(&self.knowledge_url).is_err() {
                return Err(ConfigError::invalid(
                    "TEMPONEST_KNOWLEDGE_URL must be an absolute URL such as http://knowledge:9000 (or empty: knowledge not configured)",
                ));
            }
            if self.service_client_secret.expose().is_empty() {
                return Err(ConfigError::invalid(
                    "TEMPONEST_SERVICE_CLIENT_SECRET must be set when TEMPONEST_KNOWLEDGE_URL is: the agents service calls the knowledge service with the service identity whose secret is the auth service's TEMPONEST_SERVICE_CLIENTS entry `agents=...`",
                ));
            }
            temponest_auth_client::secret_strength::check(self.service_client_secret.expose())
                .map_err(|weak| {
                    ConfigError::invalid(format!("TEMPONEST_SERVICE_CLIENT_SECRET {weak}"))
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knowledge_needs_an_absolute_url_and_a_strong_secret_which_debug_never_shows() {
        let mut config = AgentsConfig::default();
        assert!(config.validate().is_ok(), "knowledge is optional");
        config.knowledge_url = "http://127.0.0.1:9000".to_owned();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_SERVICE_CLIENT_SECRET"), "{err}");
        config.service_client_secret = "short".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_SERVICE_CLIENT_SECRET"), "{err}");
        let secret = "f3a9c2e87b1d4056a9e3c7b2d8f14e6a";
        config.service_client_secret = secret.into();
        assert!(config.validate().is_ok());
        assert!(!format!("{config:?}").contains(secret));
        config.knowledge_url = "not a url".to_owned();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_KNOWLEDGE_URL"), "{err}");
    }

    #[test]
    fn collaboration_settings_out_of_range_are_refused_by_name() {
        let mut config = AgentsConfig::default();
        config.collaboration.max_concurrent_steps = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("TEMPONEST_COLLABORATION__MAX_CONCURRENT_STEPS"),
            "{err}"
        );
        let mut config = AgentsConfig::default();
        config.collaboration.wait_timeout_secs = 601;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("TEMPONEST_COLLABORATION__WAIT_TIMEOUT_SECS"),
            "{err}"
        );
        let mut config = AgentsConfig::default();
        config.collaboration.max_agents = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_COLLABORATION__MAX_AGENTS"), "{err}");
    }

    #[test]
    fn cost_retention_is_400_days_by_default_and_refused_beyond_a_century() {
        let mut config = AgentsConfig::default();
        assert_eq!(config.executions.cost_retention_days, 400);
        config.executions.cost_retention_days = 0;
        assert!(config.validate().is_ok());
        config.executions.cost_retention_days = MAX_COST_RETENTION_DAYS + 1;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("TEMPONEST_EXECUTIONS__COST_RETENTION_DAYS"),
            "{err}"
        );
    }
}
