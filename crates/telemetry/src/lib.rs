//! Logs, traces and metrics for every TempoNest binary (SPEC §7 "telemetry").
//!
//! One call per binary sets everything up:
//!
//! ```no_run
//! # fn main() -> Result<(), temponest_telemetry::TelemetryError> {
//! let config = temponest_telemetry::TelemetryConfig::from_env("auth")?;
//! let _telemetry = temponest_telemetry::init(config)?; // hold until the server stops
//! # Ok(()) }
//! ```
//!
//! - **Logs**: the `tracing` subscriber, filtered by `RUST_LOG` (else the configured default),
//!   written to stderr (command output on stdout stays clean) as human-readable lines or JSON
//!   ([`LogFormat`]).
//! - **Traces**: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported over OTLP/HTTP
//!   ([`otlp_tracer_provider`]); W3C `traceparent` is extracted from incoming requests and
//!   injected into outgoing ones ([`http`]).
//! - **Metrics**: the `metrics` facade records into a process-wide Prometheus recorder
//!   ([`metrics_handle`], [`render_metrics`]); [`http::track_metrics`] records the HTTP RED
//!   metrics. Services add their own metrics through the `metrics` macros directly.

mod config;
mod error;
pub mod http;
mod otlp;
mod prometheus;
mod subscriber;

pub use config::{LOG_FORMAT_VAR, LogFormat, OTLP_ENDPOINT_VAR, SERVICE_NAME_VAR, TelemetryConfig};
pub use error::TelemetryError;
pub use otlp::otlp_tracer_provider;
pub use prometheus::{DURATION_BUCKETS, metrics_handle, render_metrics};
pub use subscriber::{RUST_LOG_VAR, TelemetryGuard, init};
