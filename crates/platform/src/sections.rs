//! The platform's sections besides where things are: telemetry (`[telemetry]`), the global
//! rate limits (`[rate_limit]`) and the API docs page (`docs_urls`). Each is set in the
//! configuration file or through its standard variables (`RUST_LOG`, `RATE_LIMIT_*`, …; see
//! [`crate::environment`]) and turned here into what its crate takes.

use serde::{Deserialize, Deserializer, Serialize};
use temponest_ratelimit::RateLimitConfig;
use temponest_telemetry::{TelemetryConfig, TelemetryError};

use crate::ConfigError;

/// Logs and traces (`[telemetry]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// Log filter directives (`RUST_LOG`); unset = `info`.
    pub log_filter: Option<String>,
    /// `auto`, `pretty` or `json` (`LOG_FORMAT`).
    pub log_format: Option<String>,
    /// OTLP/HTTP collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); unset = no trace export.
    pub otlp_endpoint: Option<String>,
    /// Service name on exported traces (`OTEL_SERVICE_NAME`); unset = the binary's name.
    pub service_name: Option<String>,
}

impl TelemetrySettings {
    /// The telemetry configuration of the process `name`, checked by the telemetry crate
    /// (errors name the standard variable).
    pub fn config(&self, name: &str) -> Result<TelemetryConfig, TelemetryError> {
        TelemetryConfig::from_lookup(name, |variable| {
            match variable {
                temponest_telemetry::RUST_LOG_VAR => &self.log_filter,
                temponest_telemetry::LOG_FORMAT_VAR => &self.log_format,
                temponest_telemetry::OTLP_ENDPOINT_VAR => &self.otlp_endpoint,
                temponest_telemetry::SERVICE_NAME_VAR => &self.service_name,
                _ => &None,
            }
            .clone()
        })
    }
}

/// The global default rate limits (`[rate_limit]`); routes with their own policies keep them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_ENABLED`: `false` turns rate limiting off.
    #[serde(deserialize_with = "flag")]
    pub enabled: bool,
    /// `RATE_LIMIT_PER_MINUTE`: requests per minute per client; 0 drops the policy.
    pub per_minute: u32,
    /// `RATE_LIMIT_PER_HOUR`: requests per hour per client; 0 drops the policy.
    pub per_hour: u32,
    /// `RATE_LIMIT_TRUST_FORWARDED_FOR`: take the client from the right-most
    /// `X-Forwarded-For` entry (only behind one trusted proxy layer).
    #[serde(deserialize_with = "flag")]
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            per_minute: 60,
            per_hour: 1000,
            trust_forwarded_for: false,
        }
    }
}

impl RateLimitSettings {
    /// The limiter's configuration (no route policies yet).
    pub fn config(&self) -> RateLimitConfig {
        RateLimitConfig {
            enabled: self.enabled,
            default_policies: RateLimitConfig::default_policies(self.per_minute, self.per_hour),
            trust_forwarded_for: self.trust_forwarded_for,
            ..RateLimitConfig::default()
        }
    }
}

/// A boolean as operators write it: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Flag;

    impl serde::de::Visitor<'_> for Flag {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean (true/false, 1/0, yes/no, on/off)")
        }

        fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<bool, E> {
            match value {
                0 | 1 => Ok(value == 1),
                _ => Err(E::invalid_value(
                    serde::de::Unexpected::Unsigned(value),
                    &self,
                )),
            }
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<bool, E> {
            match value {
                0 | 1 => Ok(value == 1),
                _ => Err(E::invalid_value(
                    serde::de::Unexpected::Signed(value),
                    &self,
                )),
            }
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<bool, E> {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(E::invalid_value(serde::de::Unexpected::Str(value), &self)),
            }
        }
    }

    deserializer.deserialize_any(Flag)
}

/// The OpenAPI documents the `/docs` page offers (`TEMPONEST_DOCS_URLS`, `docs_urls`):
/// comma-separated `name=url` pairs, in the order of the page's selector. Empty: the page shows
/// this process's own `/openapi.json`.
pub fn docs_urls(setting: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut urls = Vec::new();
    for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let invalid = |why: &str| {
            ConfigError::invalid(format!(
                "TEMPONEST_DOCS_URLS (docs_urls): `{entry}` {why}; expected comma-separated \
                 name=url pairs such as auth=/openapi/auth.json"
            ))
        };
        let (name, url) = entry
            .split_once('=')
            .map(|(name, url)| (name.trim(), url.trim()))
            .ok_or_else(|| invalid("is not name=url"))?;
        if name.is_empty() {
            return Err(invalid("has no name"));
        }
        if !(url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid("needs a path (/…) or an http(s) URL"));
        }
        if urls.iter().any(|(known, _)| known == name) {
            return Err(invalid("repeats a name"));
        }
        urls.push((name.to_owned(), url.to_owned()));
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_urls_are_name_url_pairs_in_order() {
        assert_eq!(docs_urls(" ").unwrap(), vec![]);
        assert_eq!(
            docs_urls("auth=/openapi/auth.json, agents = https://api.example/openapi.json")
                .unwrap(),
            vec![
                ("auth".to_owned(), "/openapi/auth.json".to_owned()),
                (
                    "agents".to_owned(),
                    "https://api.example/openapi.json".to_owned()
                ),
            ]
        );
        for bad in [
            "auth",
            "=/a.json",
            "auth=openapi.json",
            "a=/a.json,a=/b.json",
        ] {
            let err = docs_urls(bad).unwrap_err().to_string();
            assert!(err.contains("TEMPONEST_DOCS_URLS"), "{bad}: {err}");
        }
    }
}
