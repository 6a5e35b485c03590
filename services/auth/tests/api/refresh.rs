//! Refresh rotation, reuse detection, the concurrency grace window, logout.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth::AuthConfig;

use crate::helpers::{Options, TestApp, expect_error, expect_json, spawn, spawn_with};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_public("/auth/refresh", &json!({"refresh_token": token}))
        .await
}

fn no_grace() -> Options {
    let config = AuthConfig {
        refresh_reuse_grace_secs: 0,
        ..Options::default().config
    };
    Options {
        config,
        ..Options::default()
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn refresh_rotates_both_tokens(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    let next: Value = expect_json(refresh(&app, &session.refresh).await, StatusCode::OK).await;
    let new_refresh = next["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, session.refresh);
    assert_eq!(next["token_type"], "bearer");
    let me = app
        .fetch(next["access_token"].as_str().unwrap(), "/auth/me")
        .await;
    assert_eq!(me["email"], "ada@example.com");
    expect_json(refresh(&app, new_refresh).await, StatusCode::OK).await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(pool: PgPool) {
    let app = spawn_with(pool, no_grace()).await;
    let session = app.signup("ada@example.com").await;
    let second = expect_json(refresh(&app, &session.refresh).await, StatusCode::OK).await;
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    let third = expect_json(refresh(&app, &second).await, StatusCode::OK).await;
    let third = third["refresh_token"].as_str().unwrap().to_owned();

    expect_error(
        refresh(&app, &session.refresh).await,
        StatusCode::UNAUTHORIZED,
        "reuse detected",
    )
    .await;
    // The newest token of the family is dead too.
    expect_error(
        refresh(&app, &third).await,
        StatusCode::UNAUTHORIZED,
        "revoked",
    )
    .await;
    let events: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log where event = 'refresh.reuse_detected'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn concurrent_refreshes_inside_the_grace_window_get_the_same_successor(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    let responses = join_all((0..5).map(|_| refresh(&app, &session.refresh))).await;
    let mut successors = Vec::new();
    for resp in responses {
        let body = expect_json(resp, StatusCode::OK).await;
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "every caller got the same successor");
    // The family is still alive: the successor works.
    expect_json(refresh(&app, &successors[0]).await, StatusCode::OK).await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn logout_revokes_the_session_so_its_refresh_token_stops_working(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    let resp = app.post(&session.access, "/auth/logout", &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    expect_error(
        refresh(&app, &session.refresh).await,
        StatusCode::UNAUTHORIZED,
        "revoked",
    )
    .await;
    // Another session of the same user is unaffected.
    let other = app.tokens("ada@example.com").await;
    expect_json(
        refresh(&app, other["refresh_token"].as_str().unwrap()).await,
        StatusCode::OK,
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn garbage_and_access_tokens_are_not_refresh_tokens(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    expect_error(
        refresh(&app, &session.access).await,
        StatusCode::UNAUTHORIZED,
        "access token cannot be used as a refresh token",
    )
    .await;
    expect_error(
        refresh(&app, "rt_forged").await,
        StatusCode::UNAUTHORIZED,
        "invalid refresh token",
    )
    .await;
    expect_error(
        refresh(&app, "hello").await,
        StatusCode::UNAUTHORIZED,
        "invalid refresh token",
    )
    .await;
    let resp = app.post_public("/auth/refresh", &json!({})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "refresh_token").await;
}
