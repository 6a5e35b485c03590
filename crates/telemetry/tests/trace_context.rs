//! W3C trace context flows in through `make_span` and out through `inject_trace_context`, and
//! the request span carries the route, request id and status. Each test installs its own
//! thread-local subscriber (tracing-opentelemetry over an SDK provider with an in-memory
//! exporter), so tests in this binary do not share span state.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::get;
use axum::{Router, middleware};
use http_body_util::BodyExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use temponest_telemetry::http::{inject_trace_context, make_span, on_response, track_metrics};
use tower::ServiceExt as _;
use tower_http::trace::TraceLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Spans end up in the returned exporter as soon as they close (simple processor).
struct Tracing {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    _default: tracing::subscriber::DefaultGuard,
}

impl Tracing {
    fn install() -> Self {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        Tracing {
            exporter,
            _provider: provider,
            _default: tracing::subscriber::set_default(subscriber),
        }
    }

    fn finished_span(&self, name: &str) -> SpanData {
        let spans = self.exporter.get_finished_spans().unwrap();
        spans
            .iter()
            .find(|span| span.name == name)
            .cloned()
            .unwrap_or_else(|| {
                let names: Vec<_> = spans.iter().map(|s| s.name.clone()).collect();
                panic!("no span named {name:?}; finished: {names:?}")
            })
    }
}

/// `GET /items/1` carrying the caller's [`TRACEPARENT`].
fn request_from_a_traced_caller() -> Request<()> {
    Request::builder()
        .uri("/items/1")
        .header("traceparent", TRACEPARENT)
        .body(())
        .unwrap()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Asserts that `span` carries the attribute `key` with the value `expected`.
#[track_caller]
fn assert_attribute(span: &SpanData, key: &str, expected: Value) {
    assert_eq!(attribute(span, key), Some(expected), "attribute {key}");
}

#[test]
fn make_span_continues_the_trace_of_an_incoming_traceparent() {
    let _tracing = Tracing::install();
    let request = request_from_a_traced_caller();

    let span = make_span(&request);

    let context = span.context();
    let span_context = context.span().span_context().clone();
    assert_eq!(span_context.trace_id().to_string(), TRACE_ID);
    assert_ne!(span_context.span_id().to_string(), CALLER_SPAN_ID);
}

#[test]
fn inject_trace_context_inside_the_request_span_propagates_the_same_trace() {
    let _tracing = Tracing::install();
    let request = request_from_a_traced_caller();
    let span = make_span(&request);

    let mut outgoing = HeaderMap::new();
    span.in_scope(|| inject_trace_context(&mut outgoing));

    let traceparent = outgoing["traceparent"].to_str().unwrap();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID);
    assert_eq!(
        parts[2],
        span.context().span().span_context().span_id().to_string(),
        "the callee's parent must be our request span"
    );
    assert_eq!(parts[3], "01", "the sampled flag is kept");
}

#[test]
fn a_request_without_traceparent_starts_a_new_trace() {
    let _tracing = Tracing::install();
    let request = Request::builder().uri("/items/1").body(()).unwrap();

    let span = make_span(&request);

    let context = span.context();
    let span_context = context.span().span_context().clone();
    assert!(span_context.is_valid());
    assert_ne!(span_context.trace_id().to_string(), TRACE_ID);
}

#[test]
fn inject_trace_context_outside_any_trace_writes_nothing() {
    let mut headers = HeaderMap::new();
    inject_trace_context(&mut headers);
    assert!(headers.is_empty(), "{headers:?}");
}

fn traced_app() -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|| async {
                let mut outgoing = HeaderMap::new();
                inject_trace_context(&mut outgoing);
                outgoing["traceparent"].to_str().unwrap().to_owned()
            }),
        )
        .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_response(on_response),
        )
        .layer(middleware::from_fn(track_metrics))
}

async fn call(uri: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .uri(uri)
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "req-1")
        .body(Body::empty())
        .unwrap();
    let response = traced_app().oneshot(request).await.unwrap();
    let status = response.status();
    // Reading the body to its end closes the request span, which exports it.
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_trace_layer_names_the_span_after_the_route_and_records_request_fields() {
    let tracing = Tracing::install();

    let (status, handler_traceparent) = call("/items/1").await;

    assert_eq!(status, StatusCode::OK);
    assert!(
        handler_traceparent.starts_with(&format!("00-{TRACE_ID}-")),
        "handlers see the request span as current: {handler_traceparent}"
    );
    let span = tracing.finished_span("GET /items/{id}");
    assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(span.parent_span_id.to_string(), CALLER_SPAN_ID);
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_attribute(&span, "http.route", Value::from("/items/{id}"));
    assert_attribute(&span, "url.path", Value::from("/items/1"));
    assert_attribute(&span, "request_id", Value::from("req-1"));
    assert_attribute(&span, "http.request.method", Value::from("GET"));
    assert_attribute(&span, "http.response.status_code", Value::I64(200));
    assert_eq!(span.status, Status::Unset);
}

#[tokio::test]
async fn a_server_error_marks_the_request_span_as_failed() {
    let tracing = Tracing::install();

    let (status, _) = call("/broken").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let span = tracing.finished_span("GET /broken");
    assert_attribute(&span, "http.response.status_code", Value::I64(503));
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
}

#[tokio::test]
async fn an_unmatched_request_span_is_named_without_the_raw_path() {
    let tracing = Tracing::install();

    let (status, _) = call("/nowhere/123").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    let span = tracing.finished_span("GET unmatched");
    assert_attribute(&span, "http.route", Value::from("unmatched"));
    assert_attribute(&span, "url.path", Value::from("/nowhere/123"));
}
