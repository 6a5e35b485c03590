//! The shared HTTP stack driven end to end with `oneshot`: error bodies, extractors,
//! pagination, panics, timeouts, trailing slashes, CORS and health.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use temponest_web::health::Health;
use temponest_web::server::{into_service, with_route_layers};
use temponest_web::{ApiError, ApiResult, IdPath, Json, Pagination, ServerConfig};
use tower::ServiceExt;

#[derive(Deserialize)]
struct Item {
    name: String,
    qty: u32,
}

fn app(config: &ServerConfig) -> Router {
    let routes = Router::new()
        .route(
            "/items",
            get(|page: Pagination| async move {
                axum::Json(json!({"skip": page.skip, "limit": page.limit}))
            })
            .post(|Json(item): Json<Item>| async move {
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"name": item.name, "qty": item.qty})),
                )
            }),
        )
        .route(
            "/items/{id}",
            get(|IdPath(id): IdPath| async move { id.to_string() }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("kaboom")
                }
            }),
        )
        .route("/hang", get(std::future::pending::<()>))
        .route(
            "/boom",
            get(|| async {
                ApiResult::<()>::Err(ApiError::internal("password=hunter2 at db:5432"))
            }),
        );
    with_route_layers(routes, config)
}

async fn call(
    config: &ServerConfig,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = into_service(app(config), config)
        .oneshot(request)
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (parts.status, parts.headers, value)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn pagination_defaults_clamps_and_accepts_pages() {
    let config = ServerConfig::default();
    let (_, _, body) = call(&config, get_req("/items")).await;
    assert_eq!(body, json!({"skip": 0, "limit": 100}));
    let (_, _, body) = call(&config, get_req("/items?skip=5&limit=500")).await;
    assert_eq!(body, json!({"skip": 5, "limit": 100}));
    let (_, _, body) = call(&config, get_req("/items?page=3&page_size=20")).await;
    assert_eq!(body, json!({"skip": 40, "limit": 20}));
    let (status, _, body) = call(&config, get_req("/items?skip=-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "skip");
    let (status, _, body) = call(&config, get_req("/items?limit=ten")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
}

#[tokio::test]
async fn json_bodies_get_precise_rejections() {
    let config = ServerConfig {
        body_limit_bytes: 64,
        ..ServerConfig::default()
    };
    let (status, _, body) = call(&config, post_json("/items", r#"{"name":"a","qty":2}"#)).await;
    assert_eq!(
        (status, body),
        (StatusCode::CREATED, json!({"name": "a", "qty": 2}))
    );
    let (status, _, body) = call(&config, post_json("/items", r#"{"name":"a","qty":-2}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "qty");
    let (status, _, body) = call(&config, post_json("/items", r#"{"name":"a""#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "bad_request");
    let (status, _, _) = call(
        &config,
        post_json(
            "/items",
            &format!(r#"{{"name":"{}","qty":1}}"#, "x".repeat(100)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let request = Request::post("/items").body(Body::from("{}")).unwrap();
    let (status, _, _) = call(&config, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn json_content_types_with_a_json_suffix_or_parameters_are_accepted() {
    let config = ServerConfig::default();
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let request = Request::post("/items")
            .header("content-type", content_type)
            .body(Body::from(r#"{"name":"a","qty":1}"#))
            .unwrap();
        let (status, _, _) = call(&config, request).await;
        assert_eq!(status, StatusCode::CREATED, "{content_type}");
    }
    for content_type in ["text/plain", "application/jsonp", "json"] {
        let request = Request::post("/items")
            .header("content-type", content_type)
            .body(Body::from(r#"{"name":"a","qty":1}"#))
            .unwrap();
        let (status, _, _) = call(&config, request).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
    }
}

#[tokio::test]
async fn nul_characters_and_inexact_numbers_are_refused_before_the_handler() {
    let config = ServerConfig::default();
    let (status, _, body) = call(
        &config,
        post_json("/items", r#"{"name":"a\u0000","qty":1}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["detail"], "name: must not contain the NUL character");
    let (status, _, body) =
        call(&config, post_json("/items", r#"{"name":"a","qty":1e-400}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "qty");
    let (status, _, body) = call(&config, get_req("/items?skip=0&search=%00")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "search");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_the_error_body() {
    let config = ServerConfig::default();
    let (status, _, body) = call(&config, get_req("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    assert!(body["request_id"].is_string(), "{body}");
    let request = Request::delete("/items").body(Body::empty()).unwrap();
    let (status, headers, body) = call(&config, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
    assert_eq!(body["status"], 405);
    assert_eq!(headers["allow"], "GET,HEAD,POST");
}

#[tokio::test]
async fn malformed_ids_are_not_found() {
    let config = ServerConfig::default();
    let id = uuid::Uuid::now_v7();
    let (status, _, body) = call(&config, get_req(&format!("/items/{id}"))).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, Value::String(id.to_string()))
    );
    let (status, _, body) = call(&config, get_req("/items/42")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn server_errors_and_panics_never_leak_their_cause() {
    let config = ServerConfig::default();
    let (status, headers, body) = call(&config, get_req("/boom")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.to_string().contains("hunter2"), "{body}");
    assert_eq!(
        body["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );
    let (status, _, body) = call(&config, get_req("/panic")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["detail"], "internal server error");
    assert!(!body.to_string().contains("kaboom"));
}

#[tokio::test]
async fn a_request_over_the_timeout_is_answered_503() {
    let config = ServerConfig {
        request_timeout_secs: 1,
        ..ServerConfig::default()
    };
    let (status, _, body) = call(&config, get_req("/hang")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "timeout");
}

#[tokio::test]
async fn trailing_slashes_reach_the_same_route_with_the_query_kept() {
    let config = ServerConfig::default();
    let (status, _, body) = call(&config, get_req("/items/?limit=7")).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"skip": 0, "limit": 7}))
    );
    let (status, _, body) = call(&config, get_req("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let config = ServerConfig {
        cors_origins: vec!["https://app.example".into()],
        ..ServerConfig::default()
    };
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/items")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let (_, headers, _) = call(&config, preflight("https://app.example")).await;
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    let (_, headers, _) = call(&config, preflight("https://evil.example")).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let (_, headers, _) = call(&ServerConfig::default(), preflight("https://app.example")).await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "CORS is off unless configured"
    );
}

#[tokio::test]
async fn readiness_waits_for_migrations_and_a_reachable_database() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let live = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy(&url)
        .unwrap();
    let health = Health::new(&["test"], live, vec![]);
    let router: Router = health.router();
    let status = |router: Router, uri: &'static str| async move {
        router.oneshot(get_req(uri)).await.unwrap().status()
    };
    assert_eq!(
        status(router.clone(), "/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(status(router.clone(), "/health/live").await, StatusCode::OK);
    health.mark_migrated();
    assert_eq!(
        status(router.clone(), "/health/ready").await,
        StatusCode::OK
    );
    assert_eq!(status(router.clone(), "/health").await, StatusCode::OK);

    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let down = Health::new(&["test"], dead, vec![]);
    down.mark_migrated();
    let router: Router = down.router();
    assert_eq!(
        status(router.clone(), "/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let response = router.oneshot(get_req("/health")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["checks"]["database"]["status"], "down");
}
