//! Platform behaviour every service shares: health, metrics, docs, request ids, gzip,
//! trailing slashes, rate-limit headers on normal responses.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{expect_json, retry_after, spawn, spawn_rate_limited, spawn_signed_up};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn health_ready_metrics_and_docs_answer_without_auth(pool: PgPool) {
    let app = spawn(pool).await;
    let health = expect_json(app.get_public("/health", &[]).await, StatusCode::OK).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["checks"]["database"]["status"], "ok");
    expect_json(app.get_public("/health/live", &[]).await, StatusCode::OK).await;
    expect_json(app.get_public("/health/ready", &[]).await, StatusCode::OK).await;

    let session = app.signup("ada@example.com").await;
    app.fetch(&session.access, &format!("/users/{}", session.user_id))
        .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"endpoint="/users/{id}""#),
        "metrics use the matched route"
    );
    assert!(
        !metrics.contains(&session.user_id),
        "raw paths never become labels"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));

    let spec = expect_json(app.get_public("/openapi.json", &[]).await, StatusCode::OK).await;
    assert!(spec["paths"]["/auth/login"]["post"].is_object());
    assert!(spec["paths"]["/api-keys/{id}"]["delete"].is_object());
    let docs = app.get_public("/docs/", &[]).await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn request_ids_are_echoed_or_generated(pool: PgPool) {
    let app = spawn(pool).await;
    let echoed = [("x-request-id", "abc-123")];
    let resp = app.get_public("/health/live", &echoed).await;
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let invalid = [("x-request-id", "bad id with spaces")];
    let resp = app.get_public("/auth/me", &invalid).await;
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(generated, "bad id with spaces");
    let body = expect_json(resp, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["request_id"], generated);
    assert_eq!(body["code"], "unauthorized");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn large_responses_are_gzipped_when_accepted(pool: PgPool) {
    let app = spawn(pool).await;
    let gzip = [("accept-encoding", "gzip")];
    let resp = app.get_public("/openapi.json", &gzip).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let resp = app.get_public("/health/live", &gzip).await;
    assert!(
        resp.headers().get("content-encoding").is_none(),
        "small bodies are sent as they are"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn collection_paths_answer_with_and_without_a_trailing_slash(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    for path in ["/users", "/users/", "/api-keys", "/api-keys/"] {
        let resp = app.get(&session.access, path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let resp = app
        .post(&session.access, "/api-keys/", &json!({"name": "slash"}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn limited_responses_carry_rate_limit_headers_and_health_is_exempt(pool: PgPool) {
    let app = spawn_rate_limited(pool).await;
    let session = app.signup("ada@example.com").await;
    let resp = app.get(&session.access, "/auth/me").await;
    assert_eq!(resp.headers()["x-ratelimit-limit"], "60");
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    assert!(resp.headers().contains_key("x-ratelimit-reset"));
    assert!(
        resp.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains(r#""minute";q=60;w=60"#)
    );
    assert!(resp.headers().contains_key("ratelimit"));
    let health = app.get_public("/health", &[]).await;
    assert!(!health.headers().contains_key("x-ratelimit-limit"));
    for _ in 0..59 {
        app.get(&session.access, "/auth/me").await;
    }
    let limited = app.get(&session.access, "/auth/me").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().len() > 10);
}
