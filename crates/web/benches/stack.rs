//! What the shared per-request layers cost on their own, in process (no sockets): the same
//! `GET /health`-shaped JSON handler called through `oneshot`, its body collected, with
//!
//! - `stack/bare`: the router alone (what `load_tests/src/bin/reference.rs` serves);
//! - `stack/route_layers`: plus the per-route layers every platform route gets
//!   ([`with_route_layers_around`]: the trace span, NUL check, timeout, HTTP metrics, body
//!   limit), with no inner layer;
//! - `stack/edge`: plus [`EdgeLayer`] (trailing slash, request id, panic catching);
//! - `stack/full`: what [`into_service`] serves: the above and compression negotiation.
//!
//! The platform's own authentication/rate-limit and idempotency layers sit inside the route
//! layers and are not in this benchmark (they need a database and Redis).
//!
//! Run with `cargo bench -p temponest-web --bench stack`.

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use serde::Serialize;
use temponest_web::server::{ServerConfig, into_service, with_route_layers_around};
use temponest_web::stack::EdgeLayer;
use tower::Layer;
use tower::{Service, ServiceExt};

#[derive(Serialize)]
struct Checks {
    database: &'static str,
    redis: &'static str,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    checks: Checks,
}

async fn health() -> Response {
    let report = Health {
        status: "healthy",
        service: "bench",
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks {
            database: "ok",
            redis: "ok",
        },
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&report).unwrap_or_default(),
    )
        .into_response()
}

fn request() -> Request<Body> {
    Request::get("/health")
        .header(header::HOST, "127.0.0.1:9000")
        .body(Body::empty())
        .expect("a valid request")
}

/// One request through `service`, its body collected; the status is checked once per call.
async fn call<S>(service: &S) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = std::convert::Infallible> + Clone,
{
    let response = service
        .clone()
        .oneshot(request())
        .await
        .unwrap_or_else(|never| match never {});
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    body.len()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = ServerConfig::default();
    let bare = Router::new().route("/health", get(health));
    let route_layers = with_route_layers_around(
        Router::new().route("/health", get(health)),
        &config,
        Vec::new(),
        tower::layer::util::Identity::new(),
    );
    let edge = EdgeLayer.layer(with_route_layers_around(
        Router::new().route("/health", get(health)),
        &config,
        Vec::new(),
        tower::layer::util::Identity::new(),
    ));
    let full = into_service(
        with_route_layers_around(
            Router::new().route("/health", get(health)),
            &config,
            Vec::new(),
            tower::layer::util::Identity::new(),
        ),
        &config,
    );

    c.bench_function("stack/bare", |b| {
        b.iter(|| runtime.block_on(call(black_box(&bare))))
    });
    c.bench_function("stack/route_layers", |b| {
        b.iter(|| runtime.block_on(call(black_box(&route_layers))))
    });
    c.bench_function("stack/edge", |b| {
        b.iter(|| runtime.block_on(call(black_box(&edge))))
    });
    c.bench_function("stack/full", |b| {
        b.iter(|| runtime.block_on(call(black_box(&full))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
