//! The middleware stack every service shares and serving with graceful shutdown.
//!
//! Outer stack (before routing): trailing-slash normalisation, request id, panic → 500 JSON,
//! CORS, gzip for responses over 1 KiB. Route stack (after routing, so the matched route is
//! known): trace span, HTTP metrics, request timeout, NUL in the query string refused
//! ([`crate::stack::RouteEdge`]), body-size limit; unknown routes and wrong methods answered
//! with the error body ([`crate::edge`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::stack::{EdgeLayer, RouteEdgeLayer, Timeouts};

/// HTTP server settings shared by all services.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// The port of a single-service binary (`PORT`); `None` = the service's default.
    pub port: Option<u16>,
    /// The ports of the all-in-one `temponest serve` (`TEMPONEST_PORTS`); every port serves
    /// every route.
    pub ports: Vec<u16>,
    /// The address to listen on (`BIND_ADDRESS`).
    pub bind_address: String,
    /// A request that takes longer is answered 503 (streaming bodies are not limited).
    pub request_timeout_secs: u64,
    /// The limit for the few routes that wait on long work (a synchronous agent execution).
    pub long_request_timeout_secs: u64,
    /// Maximum request body size.
    pub body_limit_bytes: usize,
    /// Allowed CORS origins; empty disables CORS, `*` allows any origin.
    pub cors_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: None,
            ports: vec![9000, 9003],
            bind_address: "0.0.0.0".to_owned(),
            request_timeout_secs: 30,
            long_request_timeout_secs: 660,
            body_limit_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

/// Adds the 404/405 fallbacks and the route-level layers (trace span, metrics, body limit,
/// timeout, NUL in the query refused). Call after all routes are merged.
pub fn with_route_layers(router: Router, config: &ServerConfig) -> Router {
    with_route_layers_around(
        router,
        config,
        Vec::new(),
        tower::layer::util::Identity::new(),
    )
}

/// [`with_route_layers`] around the services' own route layers (`inner`: authentication,
/// rate limiting, idempotency), so those run inside the trace span and the timeout. The
/// matched routes in `long_routes` get `long_request_timeout_secs` instead of the normal
/// request timeout.
///
/// Everything is applied with one `Router::layer`: axum boxes every route once per
/// `Router::layer` call and clones each box for every request, so one call instead of one
/// per layer saves a clone and a boxed future per layer and request.
pub fn with_route_layers_around<L>(
    router: Router,
    config: &ServerConfig,
    long_routes: Vec<&'static str>,
    inner: L,
) -> Router
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<Request>>::Future: Send + 'static,
{
    let normal = Duration::from_secs(config.request_timeout_secs);
    let long = Duration::from_secs(
        config
            .long_request_timeout_secs
            .max(config.request_timeout_secs),
    );
    crate::edge::with_fallbacks(router).layer(
        tower::ServiceBuilder::new()
            .layer(RouteEdgeLayer::new(Timeouts {
                normal,
                long,
                long_routes,
            }))
            .layer(DefaultBodyLimit::max(config.body_limit_bytes))
            .layer(inner),
    )
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(Any)
            .expose_headers(Any)
            .max_age(Duration::from_secs(600)),
    )
}

/// Wraps a fully routed app in the outer layers. Exposed so tests can drive the exact stack
/// with `oneshot`.
pub fn into_service(
    router: Router,
    config: &ServerConfig,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ 'static {
    // Around the router, not with `Router::layer` (which would wrap, box and clone every
    // route once more per request).
    let compression =
        CompressionLayer::new().compress_when(DefaultPredicate::new().and(SizeAbove::new(1024)));
    tower::ServiceBuilder::new()
        .layer(EdgeLayer)
        .map_response(IntoResponse::into_response)
        .layer(compression)
        .option_layer(cors_layer(&config.cors_origins))
        .service(router)
}

/// Serves until `shutdown` resolves, then stops accepting and drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let service = into_service(router, config);
    let make =
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service);
    // Streamed responses (SSE) are many small writes: without TCP_NODELAY, Nagle's algorithm
    // holds each one until the previous is acknowledged (~40 ms with delayed ACKs).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, make)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received, draining in-flight requests");
}
