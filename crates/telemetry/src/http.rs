//! HTTP instrumentation shared by every router: the Prometheus metrics middleware, the request
//! span (the platform's `temponest_web::stack::RouteEdge` opens it, and it fits
//! `tower_http::trace::TraceLayer` as well), and W3C trace-context propagation for outgoing
//! calls.
//!
//! Both the metrics and the span are labelled with the *matched route pattern*
//! (`/agents/{id}`), never the raw path, so label cardinality stays bounded. That requires the
//! layers to be added with `Router::layer` (which runs them after routing, when
//! [`MatchedPath`] is known) rather than around the router from outside:
//!
//! ```no_run
//! use axum::{Router, middleware, routing::get};
//! use tower_http::trace::TraceLayer;
//!
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(|| async { "item" }))
//!     .layer(
//!         TraceLayer::new_for_http()
//!             .make_span_with(temponest_telemetry::http::make_span)
//!             .on_response(temponest_telemetry::http::on_response),
//!     )
//!     .layer(middleware::from_fn(temponest_telemetry::http::track_metrics));
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use ::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::extract::MatchedPath;
use axum::middleware::Next;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Counter of finished requests, labelled `method`, `endpoint`, `status`.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// Histogram of request latency in seconds, labelled `method`, `endpoint`.
pub const REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Route label of requests that matched no route (fallbacks, 404s, 405s on unknown paths).
pub const UNMATCHED: &str = "unmatched";
/// Header carrying the request id set by the request-id layer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Records `http_requests_total{method, endpoint, status}` and
/// `http_request_duration_seconds{method, endpoint}` for every request.
///
/// Use with `axum::middleware::from_fn`, added through `Router::layer` so that [`MatchedPath`]
/// is present; requests without one are labelled `endpoint="unmatched"`.
pub async fn track_metrics(req: axum::extract::Request, next: Next) -> axum::response::Response {
    let started = Instant::now();
    let method = req.method().clone();
    let endpoint = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    record_request(
        &method,
        endpoint.as_ref().map(MatchedPath::as_str),
        response.status(),
        started.elapsed(),
    );
    response
}

/// Records one finished request in `http_requests_total{method, endpoint, status}` and
/// `http_request_duration_seconds{method, endpoint}` (`endpoint` is the matched route
/// pattern; `None` is recorded as `unmatched`).
///
/// The metric handles of each (method, endpoint, status) are resolved once per thread and
/// reused, so a request costs two atomic updates rather than formatting and looking up its
/// labels. They are registered with the process-wide Prometheus recorder (installed here if
/// nothing did yet), whatever recorder the thread has set locally.
pub fn record_request(
    method: &Method,
    endpoint: Option<&str>,
    status: StatusCode,
    elapsed: Duration,
) {
    let endpoint = endpoint.unwrap_or(UNMATCHED);
    let status = status.as_u16();
    let seconds = elapsed.as_secs_f64();
    let hash = {
        let mut hasher = DefaultHasher::new();
        (method.as_str(), endpoint, status).hash(&mut hasher);
        hasher.finish()
    };
    HANDLES.with_borrow_mut(|handles| {
        if let Some(cached) = handles.get(&hash)
            && cached.is(method, endpoint, status)
        {
            cached.requests.increment(1);
            cached.duration.record(seconds);
            return;
        }
        let resolved = RequestHandles::register(method, endpoint, status);
        resolved.requests.increment(1);
        resolved.duration.record(seconds);
        // Bounded: extension methods are client-chosen (an unmatched route still counts).
        if handles.len() < MAX_CACHED_HANDLES && !handles.contains_key(&hash) {
            handles.insert(hash, resolved);
        }
    });
}

/// Upper bound on the (method, endpoint, status) handles a thread keeps.
const MAX_CACHED_HANDLES: usize = 2048;

thread_local! {
    /// The HTTP metric handles this thread has used, by the hash of their labels.
    static HANDLES: RefCell<HashMap<u64, RequestHandles, BuildHasherDefault<DefaultHasher>>> =
        RefCell::default();
}

/// Where the HTTP metrics are registered from (the `metrics` macros' metadata).
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The handles of one (method, endpoint, status).
struct RequestHandles {
    method: Method,
    endpoint: Box<str>,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl RequestHandles {
    fn is(&self, method: &Method, endpoint: &str, status: u16) -> bool {
        self.status == status && *self.endpoint == *endpoint && self.method == *method
    }

    fn register(method: &Method, endpoint: &str, status: u16) -> Self {
        let method_label = method_label(method);
        let requests = Key::from_parts(
            REQUESTS_TOTAL,
            vec![
                Label::new("method", method_label.clone()),
                Label::new("endpoint", endpoint.to_owned()),
                Label::new("status", status.to_string()),
            ],
        );
        let duration = Key::from_parts(
            REQUEST_DURATION_SECONDS,
            vec![
                Label::new("method", method_label),
                Label::new("endpoint", endpoint.to_owned()),
            ],
        );
        let (requests, duration) = match crate::prometheus::process_recorder() {
            Some(recorder) => (
                recorder.register_counter(&requests, &METADATA),
                recorder.register_histogram(&duration, &METADATA),
            ),
            None => metrics::with_recorder(|recorder| {
                (
                    recorder.register_counter(&requests, &METADATA),
                    recorder.register_histogram(&duration, &METADATA),
                )
            }),
        };
        Self {
            method: method.clone(),
            endpoint: endpoint.into(),
            status,
            requests,
            duration,
        }
    }
}

/// Builds the `http_request` span for `TraceLayer::make_span_with`.
///
/// Fields: `http.request.method`, `http.route` (matched path or `unmatched`), `url.path`,
/// `request_id` (from `x-request-id`), `otel.name` = `"METHOD route"`, `otel.kind = "server"`,
/// and `http.response.status_code` / `otel.status_code`, recorded later by [`on_response`].
/// When the OpenTelemetry layer is active, the span continues the trace of the incoming W3C
/// `traceparent`/`tracestate` headers (if any).
pub fn make_span<B>(req: &Request<B>) -> Span {
    let method = req.method().as_str();
    let route = route_of(req);
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "http_request",
        http.request.method = %method,
        http.route = %route,
        url.path = %req.uri().path(),
        request_id = %request_id,
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(req.headers()))
        });
        // Fails only when no OpenTelemetry layer is installed: then there is no trace to join.
        let _no_otel_layer = span.set_parent(parent);
    }
    span
}

/// For `TraceLayer::on_response`: records the status code on the span and logs one line per
/// request, at `debug` level, or at `error` level (marking the span as failed) for 5xx.
pub fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    let status = res.status();
    // As i64: tracing-opentelemetry exports u64 fields as strings (OTLP has no unsigned ints).
    span.record("http.response.status_code", i64::from(status.as_u16()));
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        tracing::error!(
            parent: span,
            status = status.as_u16(),
            latency_ms,
            "request failed"
        );
    } else {
        tracing::debug!(
            parent: span,
            status = status.as_u16(),
            latency_ms,
            "request finished"
        );
    }
}

/// Writes the current span's trace context into `headers` as W3C `traceparent` (and
/// `tracestate`), so the service called next joins the same trace.
///
/// Writes nothing when there is no active trace (no OpenTelemetry layer, or outside any span).
pub fn inject_trace_context(headers: &mut HeaderMap) {
    let context = Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// The matched route pattern, or [`UNMATCHED`]. Never the raw path: that would let clients
/// create unbounded label values.
fn route_of<B>(req: &Request<B>) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// Standard methods borrow a static label; only extension methods allocate.
fn method_label(method: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        other => return Cow::Owned(other.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_are_labelled_by_name() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "PURGE");
    }

    #[test]
    fn a_request_without_a_matched_path_is_unmatched() {
        let req = Request::builder().uri("/items/1").body(()).unwrap();
        assert_eq!(route_of(&req), UNMATCHED);
    }
}
