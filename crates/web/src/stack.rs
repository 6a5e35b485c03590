//! The shared per-request work as two plain tower services instead of a chain of
//! `axum::middleware::from_fn` layers (each of which clones the rest of the stack, boxes it
//! and boxes its own future on every request):
//!
//! - [`Edge`], around the whole app before routing: `/agents/` is served as `/agents`, the
//!   request id is assigned, echoed and made visible to error rendering, and a panic becomes
//!   a JSON 500.
//! - [`RouteEdge`], around every route after routing (the matched route is known): the
//!   request's trace span, a NUL in the query string refused with a 422, the route's timeout
//!   (503 after it), and `http_requests_total` / `http_request_duration_seconds` recorded.
//!
//! Both call the inner service directly from `call` and add one boxed future each.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::{BoxFuture, Either};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::ApiError;
use crate::json_scan::NUL_MESSAGE;
use crate::request_id::{X_REQUEST_ID, acceptable_request_id, scope_request_id};

/// Layer of [`Edge`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EdgeLayer;

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner }
    }
}

/// Trailing slash, request id and panic catching (see the module documentation).
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        trim_trailing_slash(&mut req);
        let (id, value) = match req
            .headers()
            .get(&X_REQUEST_ID)
            .filter(|v| v.to_str().is_ok_and(acceptable_request_id))
        {
            Some(value) => (value.to_str().unwrap_or_default().to_owned(), value.clone()),
            None => {
                let id = new_request_id();
                let value = HeaderValue::from_str(&id).expect("a UUID is visible ASCII");
                req.headers_mut()
                    .insert(X_REQUEST_ID.clone(), value.clone());
                (id, value)
            }
        };
        // A panicking handler (or router) becomes a JSON 500 carrying the request id; the
        // connection and the other requests on it carry on.
        let response = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(response) => Either::Left(AssertUnwindSafe(response).catch_unwind()),
            Err(panic) => Either::Right(std::future::ready(Err(panic))),
        };
        Box::pin(scope_request_id(id, async move {
            let mut response = match response.await {
                Ok(response) => response?,
                Err(panic) => panic_response(panic),
            };
            response.headers_mut().insert(X_REQUEST_ID.clone(), value);
            Ok(response)
        }))
    }
}

/// A fresh request id: a UUIDv7 (time-ordered) whose random bits come from a per-thread
/// SplitMix64 sequence seeded from the OS once, instead of a `getrandom` system call per
/// request. Request ids must be unique, not secret.
fn new_request_id() -> String {
    thread_local! {
        static STATE: std::cell::Cell<u64> =
            std::cell::Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    let next = || {
        STATE.with(|state| {
            let mut z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    };
    let mut random = [0_u8; 10];
    random[..8].copy_from_slice(&next().to_le_bytes());
    random[8..].copy_from_slice(&next().to_le_bytes()[..2]);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        });
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

/// Rewrites `/agents/` to `/agents` before routing so collections answer with and without a
/// trailing slash (no redirect). The Swagger UI under `/docs/` needs its slash and is left alone.
fn trim_trailing_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/docs") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
}

/// The answer to a request whose handler panicked: a 500 whose body names no internals (the
/// message is logged by [`ApiError::internal`]).
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// How long a request may take: `long` for the matched routes in `long_routes`, else `normal`.
#[derive(Debug)]
pub struct Timeouts {
    pub normal: Duration,
    pub long: Duration,
    pub long_routes: Vec<&'static str>,
}

/// Layer of [`RouteEdge`].
#[derive(Debug, Clone)]
pub struct RouteEdgeLayer {
    timeouts: Arc<Timeouts>,
}

impl RouteEdgeLayer {
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            timeouts: Arc::new(timeouts),
        }
    }
}

impl<S> Layer<S> for RouteEdgeLayer {
    type Service = RouteEdge<S>;

    fn layer(&self, inner: S) -> RouteEdge<S> {
        RouteEdge {
            inner,
            timeouts: Arc::clone(&self.timeouts),
        }
    }
}

/// Trace span, NUL refusal, timeout and HTTP metrics of a routed request (see the module
/// documentation).
#[derive(Debug, Clone)]
pub struct RouteEdge<S> {
    inner: S,
    timeouts: Arc<Timeouts>,
}

impl<S> Service<Request> for RouteEdge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let span = temponest_telemetry::http::make_span(&req);
        let method = req.method().clone();
        let endpoint = req.extensions().get::<MatchedPath>().cloned();
        // `%00` is the only way a NUL can be in a URI; most queries skip the decoding entirely.
        if let Some(field) = req
            .uri()
            .query()
            .filter(|q| q.contains("%00"))
            .and_then(crate::edge::nul_parameter)
        {
            let response = ApiError::invalid_field(&field, NUL_MESSAGE).into_response();
            temponest_telemetry::http::on_response(&response, started.elapsed(), &span);
            record(&method, endpoint.as_ref(), &response, started);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let timeout = match &endpoint {
            Some(route) if self.timeouts.long_routes.contains(&route.as_str()) => {
                self.timeouts.long
            }
            _ => self.timeouts.normal,
        };
        let response = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        let traced = span.clone();
        let work = async move {
            let response = match tokio::time::timeout(timeout, response).await {
                Ok(response) => response?,
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!("the request did not complete within {}s", timeout.as_secs()),
                )
                .into_response(),
            };
            temponest_telemetry::http::on_response(&response, started.elapsed(), &traced);
            record(&method, endpoint.as_ref(), &response, started);
            Ok(response)
        };
        // A disabled span (the level filter is above `info` and no exporter wants it) would
        // only cost its enter/exit on every poll.
        if span.is_disabled() {
            Box::pin(work)
        } else {
            Box::pin(work.instrument(span))
        }
    }
}

fn record(
    method: &axum::http::Method,
    endpoint: Option<&MatchedPath>,
    response: &Response,
    started: Instant,
) {
    temponest_telemetry::http::record_request(
        method,
        endpoint.map(MatchedPath::as_str),
        response.status(),
        started.elapsed(),
    );
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn generated_request_ids_are_distinct_uuid_v7s() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
        }
    }
}
