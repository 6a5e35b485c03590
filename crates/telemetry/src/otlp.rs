//! OTLP/HTTP trace export: a batch span exporter posting protobuf to `<endpoint>/v1/traces`.
//!
//! The exporter uses opentelemetry-otlp's *blocking* reqwest client on the SDK's own batch
//! thread. The async client panics there with "no reactor running" (TOOLCHAIN.md trap #2).

use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::TelemetryError;

/// Signal path appended to `OTEL_EXPORTER_OTLP_ENDPOINT`, as the OTLP specification requires.
const TRACES_PATH: &str = "/v1/traces";

/// Builds a tracer provider that batches spans and exports them over OTLP/HTTP (protobuf) to
/// `<endpoint>/v1/traces`, with `service.name = service_name` on the resource.
///
/// `endpoint` is a collector base URL such as `http://otel-collector:4318` (the meaning of
/// `OTEL_EXPORTER_OTLP_ENDPOINT`). Other standard variables the exporter honours itself
/// (`OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._COMPRESSION`) still apply.
///
/// Call [`SdkTracerProvider::shutdown`] (or drop the [`crate::TelemetryGuard`] that owns it) to
/// flush. Shutdown blocks until the export finishes, so from async code run it in
/// `spawn_blocking`.
///
/// # Errors
/// [`TelemetryError::OtlpExporter`] when the exporter or its HTTP client cannot be built.
pub fn otlp_tracer_provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let traces_url = traces_url(endpoint);
    install_crypto_provider();
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url.clone())
        .build()
        .map_err(|source| TelemetryError::OtlpExporter {
            endpoint: traces_url,
            source,
        })?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build())
}

/// `with_endpoint` takes the full signal URL, unlike the environment variable it replaces.
fn traces_url(endpoint: &str) -> String {
    format!("{}{TRACES_PATH}", endpoint.trim_end_matches('/'))
}

/// reqwest's `rustls-no-provider` feature (enabled workspace-wide) makes client construction
/// panic unless a process-wide rustls crypto provider exists. Installing ring here keeps `init`
/// independent of start-up order; it is a no-op when a provider is already installed.
fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_appended_to_the_base_endpoint_once() {
        assert_eq!(
            traces_url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://example.com/otlp/"),
            "https://example.com/otlp/v1/traces"
        );
    }
}
