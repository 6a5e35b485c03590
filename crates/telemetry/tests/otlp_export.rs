//! Spans really leave the process: a stand-in OTLP collector (an axum app on 127.0.0.1:0)
//! records what the exporter posts. `init` installs process-wide state, so this binary calls it
//! in exactly one test; the other test uses `otlp_tracer_provider` alone.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use temponest_telemetry::{LogFormat, TelemetryConfig, init, otlp_tracer_provider};
use tokio::net::TcpListener;

/// One POST received by the stand-in collector.
#[derive(Debug, Clone)]
struct Export {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

impl Export {
    /// Protobuf encodes strings as raw UTF-8, so names are findable without decoding.
    fn mentions(&self, text: &str) -> bool {
        self.body
            .windows(text.len())
            .any(|window| window == text.as_bytes())
    }
}

type Received = Arc<Mutex<Vec<Export>>>;

/// Starts the stand-in collector and returns its base URL (what OTEL_EXPORTER_OTLP_ENDPOINT
/// would hold) and the list of requests it has received.
async fn start_collector() -> (String, Received) {
    async fn record(
        State(received): State<Received>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let content_type = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        received.lock().unwrap().push(Export {
            path: uri.path().to_owned(),
            content_type,
            body: body.to_vec(),
        });
        ""
    }

    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(record))
        .with_state(received.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), received)
}

fn trace_exports(received: &Received) -> Vec<Export> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|export| export.path == "/v1/traces")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_otlp_tracer_provider_posts_protobuf_spans_to_v1_traces_on_shutdown() {
    let (endpoint, received) = start_collector().await;
    let provider = otlp_tracer_provider(&endpoint, "exporter-probe-service").unwrap();

    provider
        .tracer("test")
        .in_span("provider-probe-span", |_context| {});
    // Shutdown flushes synchronously through the blocking HTTP client; keep it off the runtime.
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();

    let exports = trace_exports(&received);
    assert!(!exports.is_empty(), "no POST to /v1/traces");
    let export = exports
        .iter()
        .find(|export| export.mentions("provider-probe-span"))
        .expect("the span was exported");
    assert_eq!(export.content_type, "application/x-protobuf");
    assert!(export.mentions("exporter-probe-service"));
}

#[tokio::test(flavor = "multi_thread")]
async fn init_with_an_endpoint_exports_tracing_spans_and_flushes_when_the_guard_drops() {
    let (endpoint, received) = start_collector().await;
    let config = TelemetryConfig {
        service_name: "init-probe-service".to_owned(),
        log_format: LogFormat::Json,
        otlp_endpoint: Some(endpoint),
        log_filter: None,
        default_filter: "info".to_owned(),
    };

    let guard = init(config.clone()).unwrap();
    assert!(!guard.is_noop());
    let second = init(config).unwrap();
    assert!(second.is_noop(), "a second init must be a harmless no-op");
    drop(second);

    tracing::error_span!("init-probe-span").in_scope(|| tracing::info!("inside the probe"));
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let exports = trace_exports(&received);
    let export = exports
        .iter()
        .find(|export| export.mentions("init-probe-span"))
        .unwrap_or_else(|| panic!("span not exported; received {} POSTs", exports.len()));
    assert_eq!(export.content_type, "application/x-protobuf");
    assert!(export.mentions("init-probe-service"));

    metrics::counter!("init_probe_total").increment(1);
    assert!(
        temponest_telemetry::render_metrics().contains("init_probe_total 1"),
        "init installs the global Prometheus recorder"
    );
}
