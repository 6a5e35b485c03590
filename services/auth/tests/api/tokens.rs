//! Access-token verification: expiry, tampering, `alg: none`, wrong token kinds, rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth_client::{AccessClaims, TokenType, claims::ISSUER};
use uuid::Uuid;

use temponest_test_client::fixtures::texts;

use crate::helpers::{TestApp, expect_error, expect_json, spawn, spawn_signed_up};

/// Introspects `token`, asserts 200 and returns the answer.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let body = json!({"token": token});
    app.call_public("POST /auth/introspect", Some(&body), 200)
        .await
}

fn claims(exp_offset: i64, token_type: TokenType) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        sub: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        email: "x@example.com".into(),
        roles: vec![temponest_auth_client::permissions::Role::Admin],
        permissions: vec![],
        jti: Uuid::now_v7(),
        sid: Uuid::now_v7(),
        iat: now - 3600,
        exp: now + exp_offset,
        iss: ISSUER.into(),
        token_type,
        client: None,
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn expired_tampered_and_unsigned_tokens_are_rejected(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;

    let expired = app
        .state
        .keys
        .sign(&claims(-120, TokenType::Access))
        .unwrap();
    let resp = app.get(&expired, "/auth/me").await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    expect_error(resp, StatusCode::UNAUTHORIZED, "expired").await;

    // Change the payload (grant another tenant) but keep the signature.
    let parts: Vec<&str> = session.access.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["tenant_id"] = json!(Uuid::now_v7());
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    app.refused(&forged, "GET /auth/me", None, 401, "invalid")
        .await;

    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    app.refused(&unsigned, "GET /auth/me", None, 401, "").await;

    // A service token that names no service client (not issued by /auth/service-token).
    let service = app
        .state
        .keys
        .sign(&claims(600, TokenType::Service))
        .unwrap();
    app.refused(
        &service,
        "GET /auth/me",
        None,
        401,
        "no known service client",
    )
    .await;

    app.refused("garbage", "GET /auth/me", None, 401, "malformed")
        .await;
    app.refused(
        &session.refresh,
        "GET /auth/me",
        None,
        401,
        "refresh token cannot be used",
    )
    .await;
    let resp = app
        .get_public("/auth/me", &[("authorization", "Basic YTpi")])
        .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "bearer").await;
    // The genuine token still works.
    app.fetch(&session.access, "/auth/me").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn rotating_the_signing_key_keeps_issued_tokens_valid(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let old_kid = app.state.keys.jwks().keys[0].kid.clone();
    let new_kid = app.state.keys.rotate().await.unwrap();
    assert_ne!(old_kid, new_kid);

    let jwks = expect_json(
        app.get_public("/.well-known/jwks.json", &[]).await,
        StatusCode::OK,
    )
    .await;
    let kids = texts(&jwks["keys"], "kid");
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519" && k.get("d").is_none())
    );

    app.fetch(&session.access, "/auth/me").await;
    let fresh = app.tokens("ada@example.com").await;
    let token = fresh["access_token"].as_str().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid);
    assert_eq!(header["alg"], "EdDSA");
    app.fetch(token, "/auth/me").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn introspection_describes_valid_credentials_and_rejects_others(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let body = introspect(&app, &session.access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["principal"]["tenant_id"], session.tenant_id);
    let body = introspect(&app, "sk_unknown").await;
    assert_eq!(body, json!({"active": false}));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn automatic_rotation_replaces_only_a_key_that_reached_its_age(pool: PgPool) {
    let app = spawn(pool).await;
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(
        app.state.keys.rotate_if_older_than(day).await.unwrap(),
        None
    );
    sqlx::query("update auth.signing_keys set created_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let rotated = app
        .state
        .keys
        .rotate_if_older_than(day)
        .await
        .unwrap()
        .expect("an old key is rotated");
    // Two replicas noticing at once rotate once.
    sqlx::query("update auth.signing_keys set created_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        app.state.keys.rotate_if_older_than(day),
        app.state.keys.rotate_if_older_than(day)
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().flatten().count(), 1);
    let active = app
        .count("select count(*) from auth.signing_keys where retired_at is null")
        .await;
    assert_eq!(active, 1);
    assert!(app.state.keys.jwks().keys.iter().any(|k| k.kid == rotated));
}
