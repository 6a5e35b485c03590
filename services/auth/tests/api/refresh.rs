//! Refresh rotation, reuse detection, the concurrency grace window, logout.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth::AuthConfig;

use crate::helpers::{
    Options, TestApp, expect_error, expect_json, spawn_configured, spawn_signed_up,
};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_public("/auth/refresh", &json!({"refresh_token": token}))
        .await
}

/// Refreshes with `token`, asserts 200 and returns the new token pair.
async fn refreshed(app: &TestApp, token: &str) -> Value {
    expect_json(refresh(app, token).await, StatusCode::OK).await
}

/// Refreshes with `token` and asserts a 401 whose detail contains `needle`.
async fn refused(app: &TestApp, token: &str, needle: &str) {
    expect_error(refresh(app, token).await, StatusCode::UNAUTHORIZED, needle).await;
}

fn no_grace() -> AuthConfig {
    AuthConfig {
        refresh_reuse_grace_secs: 0,
        ..Options::default().config
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn refresh_rotates_both_tokens(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let next = refreshed(&app, &session.refresh).await;
    let new_refresh = next["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, session.refresh);
    assert_eq!(next["token_type"], "bearer");
    let me = app
        .fetch(next["access_token"].as_str().unwrap(), "/auth/me")
        .await;
    assert_eq!(me["email"], "ada@example.com");
    refreshed(&app, new_refresh).await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(pool: PgPool) {
    let app = spawn_configured(pool, no_grace()).await;
    let session = app.signup("ada@example.com").await;
    let second = refreshed(&app, &session.refresh).await;
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    let third = refreshed(&app, &second).await;
    let third = third["refresh_token"].as_str().unwrap().to_owned();

    refused(&app, &session.refresh, "reuse detected").await;
    // The newest token of the family is dead too.
    refused(&app, &third, "revoked").await;
    let events = app.audit_count("refresh.reuse_detected").await;
    assert_eq!(events, 1);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn concurrent_refreshes_inside_the_grace_window_get_the_same_successor(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let responses = join_all((0..5).map(|_| refresh(&app, &session.refresh))).await;
    let mut successors = Vec::new();
    for resp in responses {
        let body = expect_json(resp, StatusCode::OK).await;
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "every caller got the same successor");
    // The family is still alive: the successor works.
    refreshed(&app, &successors[0]).await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn logout_revokes_the_session_so_its_refresh_token_stops_working(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let resp = app.post(&session.access, "/auth/logout", &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    refused(&app, &session.refresh, "revoked").await;
    // Another session of the same user is unaffected.
    let other = app.tokens("ada@example.com").await;
    refreshed(&app, other["refresh_token"].as_str().unwrap()).await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn garbage_and_access_tokens_are_not_refresh_tokens(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let access_as_refresh = "access token cannot be used as a refresh token";
    refused(&app, &session.access, access_as_refresh).await;
    for forged in ["rt_forged", "hello"] {
        refused(&app, forged, "invalid refresh token").await;
    }
    let body = json!({});
    app.refused_public("POST /auth/refresh", Some(&body), 422, "refresh_token")
        .await;
}
