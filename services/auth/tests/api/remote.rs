//! Another service authenticating callers through the auth service over HTTP: JWKS fetched
//! remotely (and re-fetched for an unknown key id), API keys introspected remotely and cached
//! in the shared two-tier cache, revocation reaching the other service at once.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use temponest_auth_client::{AuthClient, JwtVerifier, Principal, RemoteIntrospection};
use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};

use crate::helpers::{TestApp, eventually, expect_error, expect_json, spawn};

/// A stand-in downstream service: one route that echoes the caller's principal.
pub async fn downstream(auth: &TestApp) -> String {
    let http = reqwest::Client::new();
    let cache = Cache::connect(CacheConfig {
        redis_url: Some(
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        key_prefix: auth.prefix.clone(),
        ..CacheConfig::default()
    })
    .await;
    let client = AuthClient::new(
        JwtVerifier::remote(auth.url("/.well-known/jwks.json"), http.clone()),
        Arc::new(RemoteIntrospection::new(&auth.base, http)),
        cache,
    );
    let limiter = RateLimiter::new(
        RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        None,
    );
    let router = Router::new().route(
        "/whoami",
        get(|principal: Principal| async move { axum::Json(principal) }),
    );
    let app = temponest_auth_client::protect(router, client, limiter);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = temponest_web::ServerConfig::default();
    tokio::spawn(async move {
        temponest_web::serve(listener, app, &server, std::future::pending()).await
    });
    base
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_service_verifies_tokens_with_the_remote_jwks_even_after_rotation(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    let other = downstream(&app).await;
    let http = reqwest::Client::new();
    let me = expect_json(
        http.get(format!("{other}/whoami"))
            .bearer_auth(&session.access)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["tenant_id"], session.tenant_id);
    assert_eq!(me["kind"]["kind"], "user");

    // A token signed by a key the downstream has never seen: it re-fetches the JWKS.
    app.state.keys.rotate().await.unwrap();
    let fresh = app.tokens("ada@example.com").await;
    let resp = http
        .get(format!("{other}/whoami"))
        .bearer_auth(fresh["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_json(resp, StatusCode::OK).await;

    let resp = http.get(format!("{other}/whoami")).send().await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "authentication required").await;

    // Logging out ends the session for the other service too.
    let resp = app.post(&session.access, "/auth/logout", &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ended = eventually(|| async {
        http.get(format!("{other}/whoami"))
            .bearer_auth(&session.access)
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(ended, "the logged-out token kept working downstream");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_service_resolves_api_keys_remotely_and_sees_revocation_at_once(pool: PgPool) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    let key = app
        .create(
            &session.access,
            "/api-keys",
            &json!({"name": "svc", "scopes": ["agents:read"]}),
        )
        .await;
    let secret = key["key"].as_str().unwrap().to_owned();
    let other = downstream(&app).await;
    let http = reqwest::Client::new();
    let whoami = || {
        http.get(format!("{other}/whoami"))
            .header("x-api-key", &secret)
            .send()
    };
    let me = expect_json(whoami().await.unwrap(), StatusCode::OK).await;
    assert_eq!(me["permissions"], json!(["agents:read"]));
    assert_eq!(me["kind"]["kind"], "api_key");

    app.revoke_key(&session.access, &key).await;
    // The downstream had the key cached for 30 s; the revocation's invalidation reaches it
    // through Redis pub/sub instead.
    let revoked =
        eventually(|| async { whoami().await.unwrap().status() == StatusCode::UNAUTHORIZED }).await;
    assert!(revoked, "the revoked key kept working downstream");
}
