//! The one error type of this crate: everything that can go wrong while setting telemetry up.
//! Nothing fails once telemetry is running; recording a metric or a span never errors.

/// Telemetry could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A configuration value (named by `variable`, e.g. `LOG_FORMAT` or `RUST_LOG`) is invalid.
    #[error("invalid {variable}={value:?}: {reason}")]
    InvalidConfig {
        /// The environment variable (or config field) holding the value.
        variable: &'static str,
        /// The rejected value.
        value: String,
        /// What was expected instead.
        reason: String,
    },
    /// The OTLP/HTTP span exporter could not be built for `endpoint`.
    #[error("failed to build the OTLP trace exporter for {endpoint}: {source}")]
    OtlpExporter {
        /// The traces URL the exporter was built for.
        endpoint: String,
        /// The exporter's own error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}
