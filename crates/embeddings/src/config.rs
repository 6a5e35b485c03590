//! [`EmbeddingConfig`]: which protocol, where, with which key, and how calls are batched,
//! limited, retried and cached. Deserialises from the service's layered configuration
//! (figment), missing fields taking their documented defaults; [`EmbeddingConfig::validate`]
//! names the field that is wrong.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temponest_secrets::Secret;

use crate::EmbeddingError;

/// The wire protocol of an embedding provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingKind {
    /// `POST {base_url}/embeddings`, OpenAI and compatible servers (vLLM, LiteLLM, LocalAI,
    /// Ollama's `/v1`); `base_url` includes the version path (`"openai"`).
    OpenAi,
    /// `POST {base_url}/api/embed`, Ollama's native endpoint (`"ollama"`).
    #[default]
    Ollama,
}

impl EmbeddingKind {
    /// The serialized name, also the provider part of an [`crate::EmbeddingIdentity`] unless a
    /// name is given.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
        }
    }

    /// The base URL used when `base_url` is empty.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Ollama => "http://localhost:11434",
        }
    }

    /// The request path below the base URL.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::OpenAi => "/embeddings",
            Self::Ollama => "/api/embed",
        }
    }
}

impl fmt::Display for EmbeddingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to reach one embedding provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Wire protocol (default `ollama`, the self-hosted default with `nomic-embed-text`).
    pub kind: EmbeddingKind,
    /// Base URL; empty means the kind's default.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; never printed by `Debug`.
    pub api_key: Option<Secret>,
    /// Texts per request (default 64; 1..=2048, OpenAI's limit per request).
    pub batch_size: usize,
    /// Requests in flight at once per client (default 4; 1..=64); further batches wait.
    pub max_concurrency: usize,
    /// Limit for one request, from sending it to the end of the body, in seconds
    /// (default 60). A timed-out request is not retried.
    pub timeout_secs: u64,
    /// Retries after the first attempt for 429, 500, 502, 503, 504 and connection failures
    /// (default 3).
    pub max_retries: u32,
    /// Base of the full-jitter exponential backoff in milliseconds (default 250).
    pub backoff_base_ms: u64,
    /// Longest wait before a retry in milliseconds (default 10 000). A `Retry-After` longer
    /// than this fails the call at once instead of waiting.
    pub backoff_max_ms: u64,
    /// Memory bound of the embedding cache in bytes (default 64 MiB, about 21 000
    /// 768-dimensional vectors); 0 disables the cache.
    pub cache_max_bytes: u64,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            kind: EmbeddingKind::default(),
            base_url: String::new(),
            api_key: None,
            batch_size: 64,
            max_concurrency: 4,
            timeout_secs: 60,
            max_retries: 3,
            backoff_base_ms: 250,
            backoff_max_ms: 10_000,
            cache_max_bytes: 64 << 20,
        }
    }
}

impl EmbeddingConfig {
    /// Defaults for `kind` at `base_url`.
    pub fn new(kind: EmbeddingKind, base_url: impl Into<String>) -> Self {
        Self {
            kind,
            base_url: base_url.into(),
            ..Self::default()
        }
    }

    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<(), EmbeddingError> {
        let invalid = |field: &'static str, reason: String| {
            Err(EmbeddingError::InvalidConfig { field, reason })
        };
        let base = self.effective_base_url();
        match reqwest::Url::parse(base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => return invalid("base_url", format!("'{base}' is not an http(s) URL")),
        }
        if let Some(key) = self.key()
            && reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).is_err()
        {
            return invalid(
                "api_key",
                "contains characters not allowed in a header".into(),
            );
        }
        if !(1..=2048).contains(&self.batch_size) {
            return invalid(
                "batch_size",
                format!("must be 1..=2048, is {}", self.batch_size),
            );
        }
        if !(1..=64).contains(&self.max_concurrency) {
            let value = self.max_concurrency;
            return invalid("max_concurrency", format!("must be 1..=64, is {value}"));
        }
        if self.timeout_secs == 0 {
            return invalid("timeout_secs", "must be at least 1".into());
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return invalid(
                "backoff_max_ms",
                format!(
                    "must be at least backoff_base_ms ({})",
                    self.backoff_base_ms
                ),
            );
        }
        Ok(())
    }

    /// `base_url`, or the kind's default when empty, without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = self.base_url.trim();
        let url = if url.is_empty() {
            self.kind.default_base_url()
        } else {
            url
        };
        url.trim_end_matches('/')
    }

    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key.as_ref().and_then(Secret::non_blank)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_api_key() {
        let config = EmbeddingConfig {
            api_key: Some("sk-very-secret".into()),
            ..EmbeddingConfig::new(EmbeddingKind::OpenAi, "")
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk-very-secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn defaults_fill_missing_fields_and_unknown_fields_are_refused() {
        let config: EmbeddingConfig =
            serde_json::from_value(serde_json::json!({"kind": "openai", "batch_size": 16}))
                .unwrap();
        assert_eq!(config.kind, EmbeddingKind::OpenAi);
        assert_eq!(config.effective_base_url(), "https://api.openai.com/v1");
        assert_eq!((config.batch_size, config.max_concurrency), (16, 4));
        config.validate().unwrap();
        let typo = serde_json::from_value::<EmbeddingConfig>(serde_json::json!({"batchsize": 1}));
        assert!(
            typo.unwrap_err()
                .to_string()
                .contains("unknown field `batchsize`")
        );
    }

    #[test]
    fn validation_names_the_wrong_field() {
        let check = |config: EmbeddingConfig| config.validate().unwrap_err().to_string();
        let base = EmbeddingConfig::default();
        assert_eq!(
            check(EmbeddingConfig {
                batch_size: 0,
                ..base.clone()
            }),
            "invalid embedding configuration: batch_size must be 1..=2048, is 0"
        );
        assert!(
            check(EmbeddingConfig {
                max_concurrency: 0,
                ..base.clone()
            })
            .contains("max_concurrency")
        );
        assert!(
            check(EmbeddingConfig {
                timeout_secs: 0,
                ..base.clone()
            })
            .contains("timeout_secs")
        );
        assert!(
            check(EmbeddingConfig {
                base_url: "ftp://x".into(),
                ..base.clone()
            })
            .contains("base_url 'ftp://x' is not an http(s) URL")
        );
        assert!(
            check(EmbeddingConfig {
                api_key: Some("bad\nkey".into()),
                ..base
            })
            .contains("api_key")
        );
    }
}
