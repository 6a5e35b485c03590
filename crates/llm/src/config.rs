//! Provider configuration: which protocol a provider speaks, where, with which key, and the
//! timeout, retry and concurrency settings of its calls.
//!
//! Configurations are keyed by provider name in a map (see [`crate::Providers::from_config`]),
//! so one protocol can serve several providers: DeepSeek, OpenRouter, vLLM or LiteLLM are
//! `kind = "openai"` entries with their own `base_url`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temponest_secrets::Secret;

/// The wire protocol a provider speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions and compatible servers (`"openai"`).
    #[default]
    OpenAi,
    /// Ollama's native `/api/chat` (`"ollama"`).
    Ollama,
    /// Anthropic Messages (`"anthropic"`).
    Anthropic,
    /// The built-in offline echo provider (`"echo"`), for development and load tests.
    Echo,
}

impl ProviderKind {
    /// The serialized name (`openai`, `ollama`, `anthropic`, `echo`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::Anthropic => "anthropic",
            Self::Echo => "echo",
        }
    }

    /// The base URL used when a configuration leaves `base_url` empty.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Ollama => "http://localhost:11434",
            Self::Anthropic => "https://api.anthropic.com",
            Self::Echo => "",
        }
    }

    /// The vendor host that always requires an API key; calls to it without one fail fast
    /// with [`crate::LlmError::Unconfigured`]. Other hosts (local servers, proxies) may not
    /// need a key, so a missing key is left for them to judge.
    pub(crate) fn keyed_host(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("api.openai.com"),
            Self::Anthropic => Some("api.anthropic.com"),
            Self::Ollama | Self::Echo => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to reach one provider. Missing fields take their defaults, so a figment/TOML entry
/// can be as small as `kind = "openai"`, `base_url = "...", api_key = "..."`.
/// `Debug` shows neither the key nor the values of the extra headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// Wire protocol (default `openai`).
    pub kind: ProviderKind,
    /// Base URL; empty means the kind's default ([`ProviderKind::default_base_url`]). For
    /// `openai` it includes the version path (`https://api.openai.com/v1`).
    pub base_url: String,
    /// API key (`Authorization: Bearer` for openai and ollama, `x-api-key` for anthropic).
    /// Never printed by `Debug`.
    pub api_key: Option<Secret>,
    /// Connection budget in seconds (default 30). The HTTP client is shared, so this is not a
    /// socket option: response headers must arrive within `connect_timeout_secs +
    /// read_timeout_secs` of sending the request.
    pub connect_timeout_secs: u64,
    /// Read budget in seconds (default 30): the longest gap between two chunks of a streamed
    /// response, and the longest wait for the whole body of a non-streamed one after its
    /// headers.
    pub read_timeout_secs: u64,
    /// Retries after the first attempt (default 3), for 429/500/502/503/504/529 and
    /// connection failures.
    pub max_retries: u32,
    /// Base of the exponential backoff in milliseconds (default 500).
    pub backoff_base_ms: u64,
    /// Longest backoff in milliseconds (default 20 000); a `Retry-After` longer than this fails
    /// the call at once instead of waiting.
    pub backoff_max_ms: u64,
    /// Calls in flight at once (default 16); further calls wait for a free slot.
    pub max_concurrency: usize,
    /// Extra request headers (e.g. OpenRouter's `HTTP-Referer`/`X-Title`, LiteLLM keys).
    /// Values are not printed by `Debug`.
    pub extra_headers: BTreeMap<String, Secret>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            kind: ProviderKind::OpenAi,
            base_url: String::new(),
            api_key: None,
            connect_timeout_secs: 30,
            read_timeout_secs: 30,
            max_retries: 3,
            backoff_base_ms: 500,
            backoff_max_ms: 20_000,
            max_concurrency: 16,
            extra_headers: BTreeMap::new(),
        }
    }
}

impl ProviderConfig {
    /// Defaults for `kind`, with its default base URL.
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            base_url: kind.default_base_url().to_owned(),
            ..Self::default()
        }
    }

    /// `base_url`, or the kind's default when empty, without a trailing slash.
    pub(crate) fn effective_base_url(&self) -> &str {
        let url = self.base_url.trim();
        let url = if url.is_empty() {
            self.kind.default_base_url()
        } else {
            url
        };
        url.trim_end_matches('/')
    }

    /// The API key unless it is missing or blank.
    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key.as_ref().and_then(Secret::non_blank)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub(crate) fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }
}

/// The built-in provider set: `openai` (key from `OPENAI_API_KEY`), `ollama`, `anthropic`
/// (key from `ANTHROPIC_API_KEY`) and `echo`.
pub(crate) fn defaults() -> BTreeMap<String, ProviderConfig> {
    let env_key = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(Secret)
    };
    let mut configs = BTreeMap::new();
    configs.insert(
        "openai".to_owned(),
        ProviderConfig {
            api_key: env_key("OPENAI_API_KEY"),
            ..ProviderConfig::new(ProviderKind::OpenAi)
        },
    );
    configs.insert(
        "ollama".to_owned(),
        ProviderConfig::new(ProviderKind::Ollama),
    );
    configs.insert(
        "anthropic".to_owned(),
        ProviderConfig {
            api_key: env_key("ANTHROPIC_API_KEY"),
            ..ProviderConfig::new(ProviderKind::Anthropic)
        },
    );
    configs.insert("echo".to_owned(), ProviderConfig::new(ProviderKind::Echo));
    configs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let config = ProviderConfig {
            api_key: Some("sk-secret".into()),
            extra_headers: [("X-Title".to_owned(), "hidden-value".into())].into(),
            ..ProviderConfig::new(ProviderKind::OpenAi)
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk-secret") && !debug.contains("hidden-value"));
        assert!(
            debug.contains("<redacted>") && debug.contains("X-Title"),
            "{debug}"
        );
    }

    #[test]
    fn deserializes_with_defaults() {
        let config: ProviderConfig = serde_json::from_value(serde_json::json!({
            "kind": "anthropic",
            "api_key": "k",
            "max_retries": 1
        }))
        .unwrap();
        assert_eq!(config.kind, ProviderKind::Anthropic);
        assert_eq!(config.effective_base_url(), "https://api.anthropic.com");
        assert_eq!((config.max_retries, config.read_timeout_secs), (1, 30));
        assert_eq!(
            (config.backoff_base_ms, config.backoff_max_ms),
            (500, 20_000)
        );
        assert_eq!(config.max_concurrency, 16);
        let kinds: Vec<String> = [
            ProviderKind::OpenAi,
            ProviderKind::Ollama,
            ProviderKind::Anthropic,
            ProviderKind::Echo,
        ]
        .iter()
        .map(|kind| {
            serde_json::to_value(kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        assert_eq!(kinds, ["openai", "ollama", "anthropic", "echo"]);
    }

    #[test]
    fn empty_base_url_means_the_kind_default() {
        let config = ProviderConfig {
            kind: ProviderKind::Ollama,
            ..ProviderConfig::default()
        };
        assert_eq!(config.effective_base_url(), "http://localhost:11434");
        let config = ProviderConfig {
            base_url: "http://x/v1/".into(),
            api_key: Some("  ".into()),
            ..ProviderConfig::default()
        };
        assert_eq!(config.effective_base_url(), "http://x/v1");
        assert_eq!(config.key(), None);
    }
}
