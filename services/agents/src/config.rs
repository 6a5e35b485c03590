//! Agents service configuration: defaults that work on a developer machine, overridable by a
//! TOML file (`TEMPONEST_CONFIG`) and environment variables (`DATABASE_URL`, `REDIS_URL`,
//! `TEMPONEST_<FIELD>` with `__` for nesting, e.g. `TEMPONEST_PROVIDERS__OPENAI__API_KEY`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use temponest_llm::{ProviderConfig, Providers};
use temponest_web::ServerConfig;

/// Everything the agents service can be tuned with.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentsConfig {
    pub database_url: String,
    /// Empty string or unset disables Redis (L1 caches and in-process rate limits only).
    pub redis_url: Option<String>,
    pub redis_key_prefix: String,
    /// Base URL of the auth service (JWKS and API-key introspection) when running on its own.
    pub auth_url: String,
    /// LLM providers by the name agents refer to. Defaults: `openai`, `ollama`, `anthropic`
    /// and `echo`; add OpenAI-compatible ones (DeepSeek, vLLM, llama.cpp, LiteLLM) with
    /// `kind = "openai"` and their `base_url`.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Provider used when an agent is created without one (SPEC: "ollama").
    pub default_provider: String,
    pub tools: ToolsConfig,
    pub executions: ExecutionsConfig,
    /// Heartbeat of this process's instances and when a silent peer counts as dead.
    pub liveness: temponest_db::instances::Liveness,
    pub server: ServerConfig,
}

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
}

impl Default for ExecutionsConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 600,
            heartbeat_secs: 10,
            abandon_after_secs: 60,
        }
    }
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            database_url: temponest_db::DEFAULT_DATABASE_URL.to_owned(),
            redis_url: Some("redis://127.0.0.1:6379".to_owned()),
            redis_key_prefix: "tn".to_owned(),
            auth_url: "http://127.0.0.1:9002".to_owned(),
            providers: Providers::defaults(),
            default_provider: "ollama".to_owned(),
            tools: ToolsConfig::default(),
            executions: ExecutionsConfig::default(),
            liveness: temponest_db::instances::Liveness::default(),
            server: ServerConfig::default(),
        }
    }
}

impl AgentsConfig {
    /// Loads defaults → file → environment and validates.
    pub fn load() -> Result<Self, String> {
        let config: Self =
            temponest_web::config::load(Self::default()).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.liveness.validate().map_err(|e| e.to_string())?;
        if !self.providers.contains_key(&self.default_provider) {
            return Err(format!(
                "TEMPONEST_DEFAULT_PROVIDER: no provider named '{}' is configured",
                self.default_provider
            ));
        }
        if self.executions.heartbeat_secs == 0
            || self.executions.abandon_after_secs < 3 * self.executions.heartbeat_secs
        {
            return Err("TEMPONEST_EXECUTIONS__ABANDON_AFTER_SECS must be at least three heartbeats (TEMPONEST_EXECUTIONS__HEARTBEAT_SECS > 0)".into());
        }
        temponest_netguard::NetPolicy::parse(&self.tools.http_allowed_networks)
            .map_err(|e| format!("TEMPONEST_TOOLS__HTTP_ALLOWED_NETWORKS: {e}"))?;
        Ok(())
    }

    pub fn redis(&self) -> Option<String> {
        self.redis_url.clone().filter(|u| !u.trim().is_empty())
    }
}

impl std::fmt::Debug for AgentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentsConfig")
            .field(
                "database_url",
                &temponest_db::redact_url(&self.database_url),
            )
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(temponest_db::redact_url),
            )
            .field("auth_url", &self.auth_url)
            .field("providers", &self.providers)
            .field("default_provider", &self.default_provider)
            .field("tools", &self.tools)
            .field("executions", &self.executions)
            .finish_non_exhaustive()
    }
}
