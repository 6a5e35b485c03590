//! Layered configuration: built-in defaults, then an optional TOML file named by
//! `TEMPONEST_CONFIG`, then environment variables: the standard names (`DATABASE_URL`,
//! `RUST_LOG`, `RATE_LIMIT_PER_MINUTE`, `PORT`, …), each of which is also a key of the file
//! ([`crate::environment::standard_vars`]), then everything with the `TEMPONEST_` prefix,
//! lower-cased, `__` separating nested sections (`TEMPONEST_SERVER__REQUEST_TIMEOUT_SECS=10`).
//! So every setting can be written in the file, and the environment wins over it.
//!
//! The layers are read once per process ([`Layers::load`], one snapshot of the environment);
//! the platform's own settings ([`PlatformConfig`]) and each service's section ([`Settings`])
//! are extracted from them, so one file and one environment configure every service a process
//! runs.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use temponest_secrets::SecretUrl;
use temponest_web::ServerConfig;

use crate::environment::{Prefixed, Standard, Vars};
use crate::sections::{RateLimitSettings, TelemetrySettings};

/// A configuration that cannot be used; start-up stops with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a variable does not parse into the expected type (names the key).
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value that cannot work; the message names the setting.
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    /// An invalid setting; `message` names it.
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::Invalid(message.to_string())
    }
}

/// The file and environment layers of one process.
#[derive(Clone)]
pub struct Layers {
    figment: Figment,
    /// The environment snapshot the layers were made from, for [`Settings::read_verbatim`] and
    /// [`Layers::check_unknown`]; `None` in tests without an environment.
    env: Option<Vars>,
    /// The configuration file (`TEMPONEST_CONFIG`), for [`Layers::check_unknown`].
    file: Option<String>,
    /// The keys of every section extracted so far.
    known: std::sync::Arc<std::sync::Mutex<crate::known::Known>>,
}

impl Layers {
    /// The process's layers: the file named by `TEMPONEST_CONFIG` (if set), then the
    /// environment.
    pub fn load() -> Self {
        // Lossy, as figment's own `Env`: a variable that is not Unicode must not stop a start.
        let lossy = |s: std::ffi::OsString| s.to_string_lossy().into_owned();
        Self::from_environment(
            std::env::vars_os()
                .map(|(name, value)| (lossy(name), lossy(value)))
                .collect(),
        )
    }

    /// The layers of an environment given as `(name, value)` pairs: the file its
    /// `TEMPONEST_CONFIG` names (if any), then its standard variables, then its `TEMPONEST_*`
    /// ones ([`Layers::load`] passes the process's; tests their own).
    pub fn from_environment(vars: Vec<(String, String)>) -> Self {
        let vars: Vars = std::sync::Arc::new(vars);
        let file = vars
            .iter()
            .find(|(name, _)| name == "TEMPONEST_CONFIG")
            .map(|(_, path)| path.clone());
        let mut figment = Figment::new();
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path));
        }
        Self {
            figment: figment
                .merge(Standard(vars.clone()))
                .merge(Prefixed(vars.clone())),
            env: Some(vars),
            file,
            known: Default::default(),
        }
    }

    /// No layers at all: every extraction yields its defaults (tests).
    pub fn none() -> Self {
        Self {
            figment: Figment::new(),
            env: None,
            file: None,
            known: Default::default(),
        }
    }

    /// A layer of TOML text on top (tests, and the all-in-one's derived settings).
    pub fn with_toml(mut self, toml: &str) -> Self {
        self.figment = self.figment.merge(Toml::string(toml));
        self
    }

    /// Whether a layer (the file or the environment) sets `key` (`agents_url`,
    /// `server.port`), for settings whose default depends on where the process runs.
    pub fn is_set(&self, key: &str) -> bool {
        self.figment.find_value(key).is_ok()
    }

    /// Extracts `T` over its defaults, reads its verbatim variables and validates it.
    pub fn settings<T: Settings>(&self) -> Result<T, ConfigError> {
        let settings: T = self.unchecked()?;
        settings.validate()?;
        Ok(settings)
    }

    /// [`Layers::settings`] without the validation, for a caller that completes the
    /// settings first (and then validates them).
    pub fn unchecked<T: Settings>(&self) -> Result<T, ConfigError> {
        if let Ok(defaults) = figment::value::Value::serialize(T::default()) {
            self.known
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(&defaults, T::open_sections());
        }
        let mut settings: T = Figment::from(Serialized::defaults(T::default()))
            .merge(self.figment.clone())
            .extract()
            .map_err(Box::new)?;
        if let Some(vars) = &self.env {
            settings.read_verbatim(&|name| {
                vars.iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, value)| value.clone())
            });
        }
        Ok(settings)
    }
}

impl Layers {
    /// Reports the `TEMPONEST_*` variables and configuration-file keys that no section of this
    /// process (or of another service) reads: warnings, or an error when
    /// `TEMPONEST_STRICT_CONFIG=true` (see [`crate::known`]). Call it once every section has
    /// been extracted.
    pub fn check_unknown(&self) -> Result<(), ConfigError> {
        let Some(vars) = &self.env else {
            return Ok(());
        };
        let file = match &self.file {
            Some(path) => Some(
                Figment::from(Toml::file_exact(path))
                    .extract::<figment::value::Dict>()
                    .map_err(Box::new)?,
            ),
            None => None,
        };
        let strict = vars.iter().any(|(name, value)| {
            name == "TEMPONEST_STRICT_CONFIG" && matches!(value.as_str(), "true" | "1" | "yes")
        });
        let env = vars.iter().map(|(name, _)| name.clone());
        let unknown = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unknown(env, file.as_ref());
        crate::known::report(unknown, strict)
    }

    /// Which of `names` (variables a deployment file sets) no binary reads: `TEMPONEST_*`
    /// ones the sections extracted so far do not know, and unprefixed ones not in
    /// [`crate::known::OTHER_VARS`].
    pub fn unknown_variables(&self, names: &[&str]) -> Vec<String> {
        let (prefixed, other): (Vec<&str>, Vec<&str>) =
            names.iter().partition(|n| n.starts_with("TEMPONEST_"));
        let mut unknown = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unknown(prefixed.into_iter().map(str::to_owned), None);
        unknown.extend(
            other
                .into_iter()
                .filter(|n| !crate::known::OTHER_VARS.contains(n))
                .map(|n| format!("variable {n}")),
        );
        unknown
    }

    /// The key paths every section extracted so far has (`executions.timeout_secs`).
    pub fn known_keys(&self) -> Vec<String> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .paths()
    }
}

/// A section of the configuration: every field defaulted, checked before use.
pub trait Settings: Serialize + DeserializeOwned + Default {
    /// Keys below which any name is valid (maps of named entries, e.g. `providers`), for the
    /// unknown-settings check.
    fn open_sections() -> &'static [&'static str] {
        &[]
    }

    /// Variables read verbatim after the layers, through `env`: values the layered loader
    /// would parse as lists or maps (comma-separated pairs, CIDR lists).
    fn read_verbatim(&mut self, _env: &dyn Fn(&str) -> Option<String>) {}

    /// Refuses values that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// What every process shares, whatever services it runs: where Postgres and Redis are, where
/// the auth service answers when it is not in this process, the HTTP server, the pool,
/// telemetry, the global rate limits and the docs page.
/// `Debug` redacts the passwords of both URLs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PlatformConfig {
    pub database_url: SecretUrl,
    /// Empty string or unset disables Redis (L1 caches and in-process rate limits only).
    pub redis_url: Option<SecretUrl>,
    /// Prefix for every Redis key (lets several deployments share one Redis).
    pub redis_key_prefix: String,
    /// Base URL of the auth service, for processes that do not run it themselves.
    pub auth_url: String,
    pub server: ServerConfig,
    /// Pool size and acquire timeout (`DATABASE_*`).
    pub database: temponest_db::PoolSettings,
    pub telemetry: TelemetrySettings,
    pub rate_limit: RateLimitSettings,
    /// The OpenAPI documents `/docs` offers, `name=url,…` (see [`crate::sections::docs_urls`]).
    pub docs_urls: String,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            database_url: temponest_db::DEFAULT_DATABASE_URL.into(),
            redis_url: Some("redis://127.0.0.1:6379".into()),
            redis_key_prefix: "tn".to_owned(),
            auth_url: "http://127.0.0.1:9002".to_owned(),
            server: ServerConfig::default(),
            database: Default::default(),
            telemetry: Default::default(),
            rate_limit: Default::default(),
            docs_urls: String::new(),
        }
    }
}

impl Settings for PlatformConfig {
    fn read_verbatim(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        if let Some(urls) = env("TEMPONEST_DOCS_URLS") {
            self.docs_urls = urls;
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        crate::sections::docs_urls(&self.docs_urls)?;
        // Checked again over the pool's own defaults when it is created; here only what is
        // wrong whatever the service (bounds of 0..=u32::MAX refuse only the settings).
        let any_pool = temponest_db::DbConfig {
            min_connections: 0,
            max_connections: u32::MAX,
            ..temponest_db::DbConfig::for_service("temponest", self.database_url.expose())
        };
        any_pool
            .with_settings(&self.database)
            .map_err(ConfigError::invalid)?;
        Ok(())
    }
}

impl PlatformConfig {
    /// The Redis URL, `None` when unset or empty.
    pub fn redis(&self) -> Option<SecretUrl> {
        self.redis_url
            .clone()
            .filter(|u| !u.expose().trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct Section {
        nested: Nested,
        list: String,
    }

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct Nested {
        count: u32,
    }

    impl Settings for Section {
        fn read_verbatim(&mut self, env: &dyn Fn(&str) -> Option<String>) {
            if let Some(list) = env("SECTION_LIST") {
                self.list = list;
            }
        }

        fn validate(&self) -> Result<(), ConfigError> {
            match self.nested.count {
                0..=10 => Ok(()),
                _ => Err(ConfigError::invalid(
                    "TEMPONEST_NESTED__COUNT must be at most 10",
                )),
            }
        }
    }

    #[test]
    fn sections_come_from_one_set_of_layers_over_their_defaults() {
        let layers = Layers::none().with_toml(
            "database_url = \"postgres://u:secret@db/x\"\n[nested]\ncount = 3\n[server]\nrequest_timeout_secs = 7",
        );
        let platform: PlatformConfig = layers.settings().unwrap();
        assert_eq!(platform.database_url.expose(), "postgres://u:secret@db/x");
        assert_eq!(platform.server.request_timeout_secs, 7);
        assert_eq!(
            platform.redis_key_prefix, "tn",
            "defaults stay under the layers"
        );
        let section: Section = layers.settings().unwrap();
        assert_eq!(section.nested.count, 3);
        assert!(!format!("{platform:?}").contains("secret"));
    }

    #[test]
    fn a_key_is_set_when_any_layer_sets_it() {
        let layers = Layers::none().with_toml("agents_url = \"http://a\"\n[server]\nport = 1");
        assert!(layers.is_set("agents_url") && layers.is_set("server.port"));
        assert!(!layers.is_set("auth_url") && !layers.is_set("server.bind_address"));
        let layers = Layers::from_environment(vec![("PORT".into(), "9".into())]);
        assert!(layers.is_set("server.port"));
    }

    #[test]
    fn invalid_values_and_wrong_types_are_refused_with_the_setting_named() {
        let err = Layers::none()
            .with_toml("[nested]\ncount = 11")
            .settings::<Section>()
            .unwrap_err();
        assert!(err.to_string().contains("TEMPONEST_NESTED__COUNT"), "{err}");
        let err = Layers::none()
            .with_toml("[nested]\ncount = \"many\"")
            .settings::<Section>()
            .unwrap_err();
        assert!(matches!(err, ConfigError::Load(_)));
        assert!(err.to_string().contains("count"), "{err}");
    }

    #[test]
    fn verbatim_variables_are_read_only_from_a_process_environment() {
        let section: Section = Layers::none().settings().unwrap();
        assert_eq!(
            section.list, "",
            "tests' layers do not read the environment"
        );
        let mut section = Section::default();
        section.read_verbatim(&|name| (name == "SECTION_LIST").then(|| "a=b,c=d".to_owned()));
        assert_eq!(section.list, "a=b,c=d");
    }
}
