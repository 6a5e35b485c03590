//! Telemetry configuration: which log lines to write and in which format, where (if anywhere) to
//! export traces, and the service name that labels both. Read from the standard environment
//! variables ([`TelemetryConfig::from_env`]) or any other source of those names
//! ([`TelemetryConfig::from_lookup`]: the service kit passes its layered configuration).

use std::io::IsTerminal;

use crate::TelemetryError;

/// Environment variable selecting the log format (`auto`, `pretty` or `json`).
pub const LOG_FORMAT_VAR: &str = "LOG_FORMAT";
/// Standard OpenTelemetry variable: base URL of an OTLP/HTTP collector (`/v1/traces` is appended).
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Standard OpenTelemetry variable overriding the service name given in code.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// [`LogFormat::Pretty`] when stderr is a terminal, [`LogFormat::Json`] otherwise.
    Auto,
    /// Human-readable single-line logs with colours (for development).
    Pretty,
    /// One JSON object per line, including the fields of the enclosing spans (for production).
    Json,
}

impl LogFormat {
    /// Resolves [`LogFormat::Auto`] against the process's stderr, where logs are written.
    pub fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Pretty,
            LogFormat::Auto => LogFormat::Json,
            chosen => chosen,
        }
    }

    fn parse(value: &str) -> Option<LogFormat> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(LogFormat::Auto),
            "pretty" => Some(LogFormat::Pretty),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Everything [`crate::init`] needs to know.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of exported traces.
    pub service_name: String,
    /// Format of the log lines.
    pub log_format: LogFormat,
    /// Base URL of an OTLP/HTTP collector, e.g. `http://otel-collector:4318`; `None` disables
    /// trace export (and the OpenTelemetry layer with it).
    pub otlp_endpoint: Option<String>,
    /// Log filter directives (`RUST_LOG`), e.g. `"warn,temponest=debug"`; `None` uses
    /// `default_filter`.
    pub log_filter: Option<String>,
    /// Log filter directives used when `log_filter` is unset, e.g. `"info"`.
    pub default_filter: String,
}

impl TelemetryConfig {
    /// Defaults: automatic log format, no trace export, `info` filter.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_format: LogFormat::Auto,
            otlp_endpoint: None,
            log_filter: None,
            default_filter: "info,sqlx::postgres::notice=warn".to_owned(),
        }
    }

    /// Reads `RUST_LOG`, `LOG_FORMAT` (auto|pretty|json), `OTEL_EXPORTER_OTLP_ENDPOINT` and
    /// `OTEL_SERVICE_NAME` (which overrides `service_name`) from the process environment.
    ///
    /// # Errors
    /// [`TelemetryError::InvalidConfig`] naming the offending variable.
    pub fn from_env(service_name: &str) -> Result<Self, TelemetryError> {
        Self::from_lookup(service_name, |name| std::env::var(name).ok())
    }

    /// Like [`TelemetryConfig::from_env`], reading variables through `lookup` instead of the
    /// process environment (so tests need not mutate it). Empty values count as unset.
    ///
    /// # Errors
    /// [`TelemetryError::InvalidConfig`] naming the offending variable.
    pub fn from_lookup(
        service_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let read = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let mut config = Self::new(service_name);

        if let Some(value) = read(LOG_FORMAT_VAR) {
            config.log_format =
                LogFormat::parse(&value).ok_or_else(|| TelemetryError::InvalidConfig {
                    variable: LOG_FORMAT_VAR,
                    value,
                    reason: "expected one of auto, pretty, json".to_owned(),
                })?;
        }
        if let Some(endpoint) = read(OTLP_ENDPOINT_VAR) {
            validate_endpoint(&endpoint)?;
            config.otlp_endpoint = Some(endpoint);
        }
        if let Some(name) = read(SERVICE_NAME_VAR) {
            config.service_name = name;
        }
        config.log_filter = read(crate::subscriber::RUST_LOG_VAR);
        Ok(config)
    }
}

/// Rejects endpoints the exporter could only fail on later, while naming the variable now.
fn validate_endpoint(endpoint: &str) -> Result<(), TelemetryError> {
    let invalid = |reason: String| TelemetryError::InvalidConfig {
        variable: OTLP_ENDPOINT_VAR,
        value: endpoint.to_owned(),
        reason,
    };
    let uri: http::Uri = endpoint.parse().map_err(|e| invalid(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(()),
        _ => Err(invalid(
            "expected an http:// or https:// URL with a host".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn an_empty_environment_gives_the_defaults() {
        let config = TelemetryConfig::from_lookup("auth", lookup(&[])).unwrap();
        assert_eq!(config.service_name, "auth");
        assert_eq!(config.log_format, LogFormat::Auto);
        assert_eq!(config.otlp_endpoint, None);
        assert_eq!(config.log_filter, None);
        assert_eq!(config.default_filter, "info,sqlx::postgres::notice=warn");
    }

    #[test]
    fn log_format_is_parsed_case_insensitively() {
        let config =
            TelemetryConfig::from_lookup("auth", lookup(&[("LOG_FORMAT", " JSON ")])).unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        let config =
            TelemetryConfig::from_lookup("auth", lookup(&[("LOG_FORMAT", "pretty")])).unwrap();
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn a_bogus_log_format_is_rejected_with_an_error_naming_the_variable() {
        let err =
            TelemetryConfig::from_lookup("auth", lookup(&[("LOG_FORMAT", "bogus")])).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("LOG_FORMAT"), "{message}");
        assert!(message.contains("bogus"), "{message}");
    }

    #[test]
    fn rust_log_is_read_and_blank_means_unset() {
        let config =
            TelemetryConfig::from_lookup("auth", lookup(&[("RUST_LOG", " warn,a=debug ")]))
                .unwrap();
        assert_eq!(config.log_filter.as_deref(), Some("warn,a=debug"));
        let config = TelemetryConfig::from_lookup("auth", lookup(&[("RUST_LOG", " ")])).unwrap();
        assert_eq!(config.log_filter, None);
    }

    #[test]
    fn otel_service_name_overrides_the_name_given_in_code() {
        let config =
            TelemetryConfig::from_lookup("auth", lookup(&[("OTEL_SERVICE_NAME", "auth-eu")]))
                .unwrap();
        assert_eq!(config.service_name, "auth-eu");
    }

    #[test]
    fn the_otlp_endpoint_is_read_and_blank_means_unset() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")];
        let config = TelemetryConfig::from_lookup("auth", lookup(&vars)).unwrap();
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://collector:4318")
        );
        let blank = [("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")];
        let config = TelemetryConfig::from_lookup("auth", lookup(&blank)).unwrap();
        assert_eq!(config.otlp_endpoint, None);
    }

    #[test]
    fn an_otlp_endpoint_without_a_scheme_is_rejected_with_an_error_naming_the_variable() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")];
        let err = TelemetryConfig::from_lookup("auth", lookup(&vars)).unwrap_err();
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
            "{err}"
        );
    }
}
