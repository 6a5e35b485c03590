//! [`Providers`]: the registry of configured providers, looked up by name.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::anthropic::AnthropicWire;
use crate::http::HttpBackend;
use crate::ollama::OllamaWire;
use crate::openai::OpenAiWire;
use crate::provider::{Backend, Limiter, Managed};
use crate::{LlmError, Provider, ProviderConfig, ProviderKind, ProviderLoad};

struct Entry {
    provider: Arc<dyn Provider>,
    /// `None` for providers added with [`Providers::from_providers`].
    limiter: Option<Arc<Limiter>>,
}

/// The configured providers by name. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Providers {
    entries: Arc<BTreeMap<String, Entry>>,
}

impl Providers {
    /// Builds from a name → config map. Names are what agents refer to ("openai", "deepseek",
    /// "ollama", ...).
    ///
    /// `http` is shared by all providers (one connection pool; the caller installs the rustls
    /// crypto provider and may set proxies or a user agent). Its own timeouts, if any, apply
    /// on top of the per-provider ones, which this crate enforces itself.
    ///
    /// Fails with [`LlmError::Unconfigured`] for an invalid `base_url` or extra header, a
    /// `read_timeout_secs` or `max_concurrency` of 0. A missing API key is not an error here: calls to that provider
    /// fail with `Unconfigured` instead, so the others stay usable.
    pub fn from_config(
        configs: &BTreeMap<String, ProviderConfig>,
        http: reqwest::Client,
    ) -> Result<Self, LlmError> {
        let mut entries = BTreeMap::new();
        for (name, config) in configs {
            if config.max_concurrency == 0 || config.max_concurrency > Semaphore::MAX_PERMITS {
                return Err(LlmError::Unconfigured {
                    provider: name.clone(),
                    reason: format!(
                        "max_concurrency must be between 1 and {}",
                        Semaphore::MAX_PERMITS
                    ),
                });
            }
            let backend = match config.kind {
                ProviderKind::Echo => Backend::Echo,
                ProviderKind::OpenAi => {
                    Backend::OpenAi(HttpBackend::new(name, config, http.clone(), OpenAiWire)?)
                }
                ProviderKind::Ollama => {
                    Backend::Ollama(HttpBackend::new(name, config, http.clone(), OllamaWire)?)
                }
                ProviderKind::Anthropic => {
                    Backend::Anthropic(HttpBackend::new(name, config, http.clone(), AnthropicWire)?)
                }
            };
            let limiter = Arc::new(Limiter::new(config.max_concurrency));
            let provider = Managed::new(name, config.kind, limiter.clone(), backend);
            entries.insert(
                name.clone(),
                Entry {
                    provider: Arc::new(provider),
                    limiter: Some(limiter),
                },
            );
        }
        Ok(Self {
            entries: Arc::new(entries),
        })
    }

    /// A registry of ready-made providers (e.g. scripted test doubles), keyed by
    /// [`Provider::name`]. They run as they are: no concurrency limit or metrics are added.
    pub fn from_providers(providers: impl IntoIterator<Item = Arc<dyn Provider>>) -> Self {
        let entries = providers
            .into_iter()
            .map(|provider| {
                let name = provider.name().to_owned();
                (
                    name,
                    Entry {
                        provider,
                        limiter: None,
                    },
                )
            })
            .collect();
        Self {
            entries: Arc::new(entries),
        }
    }

    /// The built-in set: `openai` (<https://api.openai.com/v1>, API key from `OPENAI_API_KEY`
    /// if set), `ollama` (<http://localhost:11434>), `anthropic` (<https://api.anthropic.com>,
    /// `ANTHROPIC_API_KEY`) and `echo`. Configuration can override or extend it.
    pub fn defaults() -> BTreeMap<String, ProviderConfig> {
        crate::config::defaults()
    }

    /// The provider called `name`; [`LlmError::Unconfigured`] naming the configured ones if
    /// there is none.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Provider>, LlmError> {
        match self.entries.get(name) {
            Some(entry) => Ok(entry.provider.clone()),
            None => Err(LlmError::Unconfigured {
                provider: name.to_owned(),
                reason: format!(
                    "no such provider (configured: {})",
                    if self.entries.is_empty() {
                        "none".to_owned()
                    } else {
                        self.names().join(", ")
                    }
                ),
            }),
        }
    }

    /// Names of all providers, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// How busy the provider called `name` is; `None` if unknown or added without a limit.
    pub fn load(&self, name: &str) -> Option<ProviderLoad> {
        self.entries.get(name)?.limiter.as_ref().map(|l| l.load())
    }
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("names", &self.names())
            .finish()
    }
}
