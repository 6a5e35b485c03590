//! [`init`]: the one call per binary that installs the global tracing subscriber (filter, log
//! format, optional OpenTelemetry layer), the W3C propagator and the Prometheus recorder, and
//! the [`TelemetryGuard`] that flushes traces when the binary exits.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, fmt};

use crate::{LogFormat, TelemetryConfig, TelemetryError, metrics_handle, otlp_tracer_provider};

/// Standard variable holding log filter directives; overrides `default_filter` when set.
pub const RUST_LOG_VAR: &str = "RUST_LOG";

/// Set once a call to [`init`] has installed the global subscriber.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Keeps trace export alive; dropping it flushes pending spans and shuts the exporter down.
///
/// Hold it in `main` until the server has stopped. A guard returned by a repeated [`init`] call
/// owns nothing and dropping it does nothing.
#[derive(Debug)]
#[must_use = "dropping the guard immediately shuts trace export down"]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether this guard owns nothing (telemetry had already been initialised).
    pub fn is_noop(&self) -> bool {
        self.tracer_provider.is_none()
    }

    fn noop() -> Self {
        Self {
            tracer_provider: None,
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Shutdown flushes the batch processor and waits (bounded by the SDK's 5 s timeout).
        if let Some(provider) = self.tracer_provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("telemetry: flushing traces on shutdown failed: {err}");
        }
    }
}

/// Installs the global tracing subscriber (`config.log_filter`, i.e. `RUST_LOG`, else
/// `config.default_filter`; logs in the chosen format on stderr, so command output on stdout stays clean), the W3C TraceContext propagator, OTLP/HTTP trace export
/// when `config.otlp_endpoint` is set, and the Prometheus recorder.
///
/// A second call in the same process (or a call after some other global subscriber was set)
/// changes nothing and returns `Ok` with a no-op guard, so tests may call it freely.
///
/// # Errors
/// [`TelemetryError::InvalidConfig`] for unparsable filter directives (naming `RUST_LOG` or
/// `default_filter`); [`TelemetryError::OtlpExporter`] when the exporter cannot be built.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter = env_filter(config.log_filter.as_deref(), &config.default_filter)?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    metrics_handle();
    if INSTALLED.load(Ordering::Acquire) {
        return Ok(TelemetryGuard::noop());
    }

    let tracer_provider = config
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| otlp_tracer_provider(endpoint, &config.service_name))
        .transpose()?;
    // `Option<Layer>` is a layer: without an endpoint there is no OpenTelemetry work per span.
    let otel_layer = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(env!("CARGO_PKG_NAME")))
            .with_filter(exporter_internals_excluded())
    });
    let format = config.log_format.resolve();
    let ansi = format == LogFormat::Pretty && std::io::stderr().is_terminal();

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(log_layer(format, std::io::stderr, ansi))
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Lost a race with another `init`, or a test installed its own subscriber first.
        if let Some(provider) = tracer_provider {
            let _ = provider.shutdown();
        }
        return Ok(TelemetryGuard::noop());
    }
    INSTALLED.store(true, Ordering::Release);

    if let Some(provider) = &tracer_provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    tracing::debug!(
        service = %config.service_name,
        log_format = ?format,
        otlp_endpoint = config.otlp_endpoint.as_deref().unwrap_or("none"),
        "telemetry initialised"
    );
    Ok(TelemetryGuard { tracer_provider })
}

/// Spans of the HTTP stack the exporter itself uses must not be exported: at `trace` level each
/// export would create spans to export, without end.
fn exporter_internals_excluded() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            [
                "hyper",
                "hyper_util",
                "h2",
                "reqwest",
                "rustls",
                "opentelemetry",
            ]
            .map(|target| (target, LevelFilter::OFF)),
        )
}

/// `RUST_LOG` (the configured filter) wins when set and non-empty; an invalid value is
/// reported under its own name.
fn env_filter(rust_log: Option<&str>, default_filter: &str) -> Result<EnvFilter, TelemetryError> {
    let (variable, directives) = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(directives) => (RUST_LOG_VAR, directives),
        None => ("default_filter", default_filter),
    };
    EnvFilter::try_new(directives).map_err(|err| TelemetryError::InvalidConfig {
        variable,
        value: directives.to_owned(),
        reason: err.to_string(),
    })
}

/// The formatting layer for `format` (already resolved), writing to `writer`.
///
/// JSON lines carry the current span and the whole span list, so a line logged deep inside a
/// handler still shows the `request_id` of the enclosing `http_request` span.
fn log_layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty | LogFormat::Auto => {
            fmt::layer().with_ansi(ansi).with_writer(writer).boxed()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects everything the formatting layer writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn log_inside_request_span(format: LogFormat) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::registry().with(log_layer(format, move || writer.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("http_request", request_id = "req-42");
            let _request = request.enter();
            let handler = tracing::info_span!("get_item", item = 7);
            let _handler = handler.enter();
            tracing::info!(rows = 1, "item loaded");
        });
        captured.text()
    }

    #[test]
    fn json_log_lines_carry_the_fields_of_enclosing_spans() {
        let output = log_inside_request_span(LogFormat::Json);
        let line: serde_json::Value =
            serde_json::from_str(output.lines().next().expect("one log line")).unwrap();
        assert_eq!(line["message"], "item loaded");
        assert_eq!(line["rows"], 1);
        assert_eq!(line["span"]["name"], "get_item");
        assert_eq!(line["spans"][0]["request_id"], "req-42");
    }

    #[test]
    fn pretty_log_lines_are_plain_text_with_span_fields() {
        let output = log_inside_request_span(LogFormat::Pretty);
        assert!(output.contains("item loaded"), "{output}");
        assert!(output.contains("request_id=\"req-42\""), "{output}");
        assert!(!output.trim_start().starts_with('{'), "{output}");
    }

    #[test]
    fn rust_log_takes_precedence_over_the_default_filter() {
        let filter = env_filter(Some("warn,temponest=debug"), "info").unwrap();
        assert_eq!(filter.to_string(), "temponest=debug,warn");
        let filter = env_filter(Some("   "), "info").unwrap();
        assert_eq!(filter.to_string(), "info");
    }

    #[test]
    fn an_invalid_rust_log_is_rejected_with_an_error_naming_the_variable() {
        let err = env_filter(Some("info,[=bogus"), "info").unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
        let err = env_filter(None, "info,[=bogus").unwrap_err();
        assert!(err.to_string().contains("default_filter"), "{err}");
    }
}
