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

use crate::helpers::{Api, TestApp, eventually, expect_error, expect_json, spawn_signed_up};

/// A stand-in downstream service: one route, `/whoami`, that echoes the caller's principal.
pub async fn downstream(auth: &TestApp) -> Api {
    let http = reqwest::Client::new();
    let cache = Cache::connect(CacheConfig {
        redis_url: Some(
            std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
                .into(),
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
    Api::new(base)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_service_verifies_tokens_with_the_remote_jwks_even_after_rotation(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let other = downstream(&app).await;
    let me = other.fetch(&session.access, "/whoami").await;
    assert_eq!(me["tenant_id"], session.tenant_id);
    assert_eq!(me["kind"]["kind"], "user");

    // A token signed by a key the downstream has never seen: it re-fetches the JWKS.
    app.state.keys.rotate().await.unwrap();
    let fresh = app.tokens("ada@example.com").await;
    other
        .fetch(fresh["access_token"].as_str().unwrap(), "/whoami")
        .await;

    let resp = other.get_public("/whoami", &[]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "authentication required").await;

    // Logging out ends the session for the other service too.
    let resp = app.post(&session.access, "/auth/logout", &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ended = eventually(|| async {
        other.get(&session.access, "/whoami").await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(ended, "the logged-out token kept working downstream");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_service_resolves_api_keys_remotely_and_sees_revocation_at_once(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let body = json!({"name": "svc", "scopes": ["agents:read"]});
    let key = app.create_key(&session.access, body).await;
    let secret = key["key"].as_str().unwrap().to_owned();
    let other = downstream(&app).await;
    let header = [("x-api-key", secret.as_str())];
    let whoami = || other.get_public("/whoami", &header);
    let me = expect_json(whoami().await, StatusCode::OK).await;
    assert_eq!(me["permissions"], json!(["agents:read"]));
    assert_eq!(me["kind"]["kind"], "api_key");

    app.revoke_key(&session.access, &key).await;
    // The downstream had the key cached for 30 s; the revocation's invalidation reaches it
    // through Redis pub/sub instead.
    let revoked =
        eventually(|| async { whoami().await.status() == StatusCode::UNAUTHORIZED }).await;
    assert!(revoked, "the revoked key kept working downstream");
}
