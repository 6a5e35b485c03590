//! The axum middleware on a small router: headers, 429s, exemptions, route policies, identities.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use http::{Method, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::Value;
use temponest_ratelimit::{
    ClientIdentity, Policy, RateLimitConfig, RateLimiter, RoutePolicy, Scope, middleware,
};
use tower::ServiceExt;

use crate::helpers::{config, pool_for, redis_pool};

/// The routes under test, limited by `limiter`. An `x-test-user` header plays the part of the
/// authentication middleware (layered outside the limiter, so it runs first).
fn app(limiter: RateLimiter) -> Router {
    Router::new()
        .route("/things", get(|| async { "things" }))
        .route("/metered", get(|| async { "metered" }))
        .route(
            "/auth/login",
            post(|| async { "token" }).get(|| async { "form" }),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/health/live", get(|| async { "ok" }))
        .route("/healthz", get(|| async { "not exempt" }))
        .route("/docs/{*rest}", get(|| async { "docs" }))
        .layer(from_fn_with_state(limiter, middleware))
        .layer(from_fn(identity_from_test_header))
}

async fn identity_from_test_header(mut req: Request, next: Next) -> Response {
    let user = req
        .headers()
        .get("x-test-user")
        .and_then(|v| v.to_str().ok());
    let internal = req.headers().contains_key("x-test-internal");
    if let Some(user) = user.map(str::to_owned) {
        req.extensions_mut().insert(ClientIdentity {
            user_id: Some(user),
            internal,
            ..ClientIdentity::default()
        });
    }
    next.run(req).await
}

fn limited_app(configure: impl FnOnce(&mut RateLimitConfig)) -> Router {
    let mut config = config();
    configure(&mut config);
    app(RateLimiter::new(config, Some(redis_pool())))
}

/// Sends a request from `peer` through `app` (as `into_make_service_with_connect_info` would).
async fn send(
    app: &Router,
    method: Method,
    path: &str,
    peer: [u8; 4],
    headers: &[(&str, &str)],
) -> Response {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).expect("valid request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
    app.clone().oneshot(request).await.expect("infallible")
}

async fn get_from(app: &Router, path: &str, peer: [u8; 4]) -> Response {
    send(app, Method::GET, path, peer, &[]).await
}

/// The status of a `GET /things` from [`PEER`] with `headers`.
async fn things_status(app: &Router, headers: &[(&str, &str)]) -> StatusCode {
    send(app, Method::GET, "/things", PEER, headers)
        .await
        .status()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header"))
}

const PEER: [u8; 4] = [198, 51, 100, 7];

#[tokio::test]
async fn successful_responses_over_http_carry_every_rate_limit_header() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = app(RateLimiter::new(config(), Some(redis_pool())));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });

    let response = reqwest::get(format!("http://{address}/things"))
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().expect("ASCII"));
    assert_eq!(header("x-ratelimit-limit"), Some("60"));
    assert_eq!(header("x-ratelimit-remaining"), Some("59"));
    assert_eq!(header("x-ratelimit-reset"), Some("1"));
    assert_eq!(
        header("ratelimit-policy"),
        Some(r#""minute";q=60;w=60, "hour";q=1000;w=3600"#)
    );
    assert_eq!(header("ratelimit"), Some(r#""minute";r=59;t=1"#));
    assert_eq!(header("retry-after"), None);
    assert_eq!(response.text().await.expect("body"), "things");
}

#[tokio::test]
async fn exceeding_the_limit_returns_429_with_an_integer_retry_after_and_a_json_detail() {
    let app =
        limited_app(|c| c.default_policies = vec![Policy::per_minute(2), Policy::per_hour(100)]);
    for _ in 0..2 {
        assert_eq!(
            get_from(&app, "/things", PEER).await.status(),
            StatusCode::OK
        );
    }
    let response = send(
        &app,
        Method::GET,
        "/things",
        PEER,
        &[("x-request-id", "req-123")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&response, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer Retry-After");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "x-ratelimit-limit"), Some("2"));
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("0"));
    let reset: u64 = header(&response, "x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("integer");
    assert!(reset >= retry_after);
    assert!(
        header(&response, "ratelimit")
            .expect("RateLimit")
            .starts_with(r#""minute";r=0;t="#)
    );
    assert!(header(&response, "ratelimit-policy").is_some());

    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&body).expect("JSON body");
    let detail = body["detail"].as_str().expect("detail string");
    assert!(
        detail.contains(&format!("{retry_after} second")),
        "{detail}"
    );
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);
    assert_eq!(body["request_id"], "req-123");
    assert_eq!(body["violated_policies"], serde_json::json!(["minute"]));
}

#[tokio::test]
async fn exempt_paths_get_no_headers_and_are_never_limited() {
    let app = limited_app(|c| c.default_policies = vec![Policy::per_minute(1)]);
    for path in ["/health", "/health/live", "/docs/index.html"] {
        for _ in 0..3 {
            let response = get_from(&app, path, PEER).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, "x-ratelimit-limit"), None, "{path}");
            assert_eq!(header(&response, "ratelimit"), None, "{path}");
        }
    }
    let lookalike = get_from(&app, "/healthz", PEER).await;
    assert_eq!(
        header(&lookalike, "x-ratelimit-limit"),
        Some("1"),
        "only whole segments are exempt"
    );
}

#[tokio::test]
async fn a_route_policy_replaces_the_defaults_for_its_route_only() {
    let app = limited_app(|c| {
        c.default_policies = vec![Policy::per_minute(100)];
        c.routes = vec![RoutePolicy::new(
            Some(Method::POST),
            "/auth/login",
            Scope::Ip,
            vec![Policy::per_minute(2)],
        )];
    });
    for _ in 0..2 {
        let response = send(&app, Method::POST, "/auth/login", PEER, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("2"));
    }
    let denied = send(&app, Method::POST, "/auth/login", PEER, &[]).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);

    let form = get_from(&app, "/auth/login", PEER).await;
    assert_eq!(
        form.status(),
        StatusCode::OK,
        "other methods keep the defaults"
    );
    assert_eq!(header(&form, "x-ratelimit-limit"), Some("100"));
    let things = get_from(&app, "/things", PEER).await;
    assert_eq!(
        header(&things, "x-ratelimit-remaining"),
        Some("98"),
        "defaults are one budget"
    );
    let unmatched = get_from(&app, "/nowhere", PEER).await;
    assert_eq!(unmatched.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header(&unmatched, "x-ratelimit-limit"),
        Some("100"),
        "unmatched paths use defaults"
    );
}

#[tokio::test]
async fn client_identities_are_limited_separately() {
    let app = limited_app(|c| c.default_policies = vec![Policy::per_minute(1)]);
    let as_user = |user: &'static str| [("x-test-user", user)];
    let alice = as_user("alice");
    let bob = as_user("bob");
    assert_eq!(things_status(&app, &alice).await, StatusCode::OK);
    assert_eq!(
        things_status(&app, &alice).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(things_status(&app, &bob).await, StatusCode::OK);
    assert_eq!(
        get_from(&app, "/things", PEER).await.status(),
        StatusCode::OK,
        "anonymous: by IP"
    );
}

#[tokio::test]
async fn internal_service_callers_are_not_charged_to_client_budgets() {
    let app = limited_app(|c| c.default_policies = vec![Policy::per_minute(1)]);
    let service = [("x-test-user", "scheduler"), ("x-test-internal", "1")];
    for _ in 0..5 {
        let resp = send(&app, Method::GET, "/things", PEER, &service).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(!resp.headers().contains_key("x-ratelimit-limit"));
    }
    // The same subject without the internal mark is limited as usual.
    let user = [("x-test-user", "scheduler")];
    assert_eq!(things_status(&app, &user).await, StatusCode::OK);
    assert_eq!(
        things_status(&app, &user).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn forwarded_for_separates_clients_only_when_trusted() {
    let proxy = [10, 0, 0, 1];
    for trusted in [true, false] {
        let app = limited_app(|c| {
            c.default_policies = vec![Policy::per_minute(1)];
            c.trust_forwarded_for = trusted;
        });
        let first = [("x-forwarded-for", "203.0.113.1")];
        let second = [("x-forwarded-for", "203.0.113.2, 10.0.0.1")];
        assert_eq!(
            send(&app, Method::GET, "/things", proxy, &first)
                .await
                .status(),
            StatusCode::OK
        );
        let expected = if trusted {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(
            send(&app, Method::GET, "/things", proxy, &second)
                .await
                .status(),
            expected
        );
    }
}

#[tokio::test]
async fn a_disabled_limiter_lets_everything_through_untouched() {
    let app = limited_app(|c| {
        c.enabled = false;
        c.default_policies = vec![Policy::per_minute(1)];
    });
    for _ in 0..5 {
        let response = get_from(&app, "/things", PEER).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), None);
    }
}

#[tokio::test]
async fn a_redis_outage_never_turns_into_a_server_error() {
    let mut config = config();
    config.default_policies = vec![Policy::per_minute(3)];
    let app = app(RateLimiter::new(
        config,
        Some(pool_for("redis://127.0.0.1:1")),
    ));
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let response = get_from(&app, "/things", PEER).await;
            assert!(header(&response, "x-ratelimit-remaining").is_some());
            statuses.push(response.status());
        }
        statuses
    };
    assert_eq!(statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2]);
}

#[tokio::test]
async fn rejections_are_counted_by_endpoint_and_scope() {
    let snapshotter = test_recorder();
    let app = limited_app(|c| c.default_policies = vec![Policy::per_minute(1)]);
    let user = [("x-test-user", "carol")];
    for _ in 0..3 {
        send(&app, Method::GET, "/metered", PEER, &user).await;
    }
    let rejections: u64 = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            let key = key.key();
            let label = |name: &str| {
                key.labels()
                    .find(|l| l.key() == name)
                    .map(|l| l.value().to_owned())
            };
            key.name() == "rate_limit_rejections_total"
                && label("endpoint").as_deref() == Some("/metered")
                && label("scope").as_deref() == Some("user")
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("not a counter: {other:?}"),
        })
        .sum();
    assert_eq!(rejections, 2);
}

/// The process-wide test recorder (installed once; only this module reads it).
fn test_recorder() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder in this test binary");
        snapshotter
    })
}
