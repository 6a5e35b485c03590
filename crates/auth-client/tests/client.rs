//! The auth client against stand-in auth servers (real local HTTP servers) and real Redis:
//! remote JWKS loading and reloading, key withdrawal, session liveness and API-key
//! introspection with caching and retries.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use temponest_auth_client::jwks::{Jwk, Jwks};
use temponest_auth_client::{
    AccessClaims, AuthClient, JwtVerifier, Principal, PrincipalKind, RemoteIntrospection,
    TokenType, claims::ISSUER,
};
use temponest_cache::Cache;
use uuid::Uuid;

const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn key(kid: &str, seed: u8) -> Key {
    let seed = [seed; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    Key {
        kid: kid.into(),
        encoding: EncodingKey::from_ed_der(&der),
        jwk: Jwk::ed25519(kid, URL_SAFE_NO_PAD.encode(public)),
    }
}

fn token(key: &Key, session: Uuid, exp_in: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        sub: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        email: "ada@example.com".into(),
        roles: vec![temponest_auth_client::permissions::Role::Viewer],
        permissions: vec![temponest_auth_client::permissions::AGENTS_READ],
        jti: Uuid::now_v7(),
        sid: session,
        iat: now,
        exp: now + exp_in,
        iss: ISSUER.into(),
        token_type: TokenType::Access,
        client: None,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

/// A stand-in auth service: serves a JWKS that tests can change, and answers introspection
/// from a script, counting calls.
#[derive(Clone, Default)]
struct FakeAuth {
    jwks: Arc<Mutex<Jwks>>,
    jwks_fetches: Arc<AtomicUsize>,
    introspections: Arc<AtomicUsize>,
    /// Status codes to answer before answering normally (to exercise retries).
    failures: Arc<Mutex<Vec<u16>>>,
    revoked_sessions: Arc<Mutex<Vec<Uuid>>>,
}

async fn serve_fake(fake: FakeAuth) -> String {
    let app = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(|State(f): State<FakeAuth>| async move {
                f.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                axum::Json(f.jwks.lock().unwrap().clone())
            }),
        )
        .route(
            "/auth/introspect",
            post(|State(f): State<FakeAuth>, axum::Json(body): axum::Json<Value>| async move {
                f.introspections.fetch_add(1, Ordering::SeqCst);
                if let Some(status) = f.failures.lock().unwrap().pop() {
                    return (StatusCode::from_u16(status).unwrap(), axum::Json(json!({}))).into_response();
                }
                let token = body["token"].as_str().unwrap_or_default();
                let answer = if token == "sk_valid" {
                    json!({"active": true, "principal": {
                        "user_id": Uuid::nil(), "tenant_id": Uuid::nil(), "email": "svc@example.com",
                        "roles": ["developer"], "permissions": ["agents:read"],
                        "kind": {"kind": "api_key", "key_id": Uuid::nil()}}})
                } else if token.starts_with("sk_") {
                    json!({"active": false})
                } else {
                    // An access token: live unless its session was revoked.
                    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
                    let sid: Uuid = claims["sid"].as_str().unwrap().parse().unwrap();
                    json!({"active": !f.revoked_sessions.lock().unwrap().contains(&sid)})
                };
                (StatusCode::OK, axum::Json(answer)).into_response()
            }),
        )
        .with_state(fake);
    common::serve(app).await
}

async fn client(base: &str) -> (AuthClient, Cache) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let cache = common::cache().await;
    let auth = AuthClient::new(
        JwtVerifier::remote(format!("{base}/.well-known/jwks.json"), http.clone()),
        Arc::new(RemoteIntrospection::new(base, http)),
        cache.clone(),
    );
    (auth, cache)
}

/// A fake auth service publishing the key `k1` (seed 1), served, and a client of it: the fake,
/// the key, the client and its cache.
async fn fake_with_key() -> (FakeAuth, Key, AuthClient, Cache) {
    let fake = FakeAuth::default();
    let key = key("k1", 1);
    fake.jwks.lock().unwrap().keys = vec![key.jwk.clone()];
    let base = serve_fake(fake.clone()).await;
    let (auth, cache) = client(&base).await;
    (fake, key, auth, cache)
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers
}

#[tokio::test]
async fn tokens_verify_against_the_remote_jwks_and_a_new_key_is_fetched_on_sight() {
    let (fake, first, auth, _) = fake_with_key().await;

    let principal = auth
        .authenticate(&bearer(&token(&first, Uuid::now_v7(), 600)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        principal.permissions,
        [temponest_auth_client::permissions::AGENTS_READ]
    );
    assert!(matches!(principal.kind, PrincipalKind::User { .. }));

    // The auth service rotates: a token signed by a key the client has not seen yet.
    let second = key("k2", 2);
    fake.jwks.lock().unwrap().keys = vec![first.jwk.clone(), second.jwk.clone()];
    let before = fake.jwks_fetches.load(Ordering::SeqCst);
    auth.authenticate(&bearer(&token(&second, Uuid::now_v7(), 600)))
        .await
        .unwrap()
        .unwrap();
    assert!(
        fake.jwks_fetches.load(Ordering::SeqCst) > before,
        "the JWKS was fetched again"
    );
}

#[tokio::test]
async fn forged_expired_and_withdrawn_tokens_are_refused() {
    let (fake, trusted, auth, _) = fake_with_key().await;

    let impostor = key("k1", 9); // same kid, different key
    let err = auth
        .authenticate(&bearer(&token(&impostor, Uuid::now_v7(), 600)))
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    let err = auth
        .authenticate(&bearer(&token(&trusted, Uuid::now_v7(), -120)))
        .await
        .unwrap_err();
    assert!(err.detail.contains("expired"), "{}", err.detail);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
        token(&trusted, Uuid::now_v7(), 600)
            .split('.')
            .nth(1)
            .unwrap()
    );
    assert_eq!(
        auth.authenticate(&bearer(&none)).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );

    // A verified (and cached) token stops verifying once its key is withdrawn from the JWKS.
    let good = token(&trusted, Uuid::now_v7(), 600);
    auth.authenticate(&bearer(&good)).await.unwrap().unwrap();
    fake.jwks.lock().unwrap().keys.clear();
    auth.verifier().reload().await.unwrap();
    assert_eq!(
        auth.authenticate(&bearer(&good)).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn session_liveness_and_api_keys_are_introspected_once_then_cached() {
    let (fake, signing, auth, cache) = fake_with_key().await;

    let session = Uuid::now_v7();
    let access = token(&signing, session, 600);
    for _ in 0..5 {
        auth.authenticate(&bearer(&access)).await.unwrap().unwrap();
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", "sk_valid".parse().unwrap());
    for _ in 0..5 {
        let principal: Principal = auth.authenticate(&headers).await.unwrap().unwrap();
        assert!(matches!(principal.kind, PrincipalKind::ApiKey { .. }));
    }
    assert_eq!(
        fake.introspections.load(Ordering::SeqCst),
        2,
        "one call for the session, one for the key"
    );

    // The auth service revokes the session and invalidates the cached liveness.
    fake.revoked_sessions.lock().unwrap().push(session);
    cache
        .invalidate(
            &temponest_cache::categories::JWT,
            &temponest_auth_client::session_cache_key(session),
        )
        .await;
    let err = auth.authenticate(&bearer(&access)).await.unwrap_err();
    assert!(err.detail.contains("session"), "{}", err.detail);

    let mut unknown = HeaderMap::new();
    unknown.insert("x-api-key", "sk_unknown".parse().unwrap());
    assert_eq!(
        auth.authenticate(&unknown).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
    let mut bad = HeaderMap::new();
    bad.insert("x-api-key", "not-a-key".parse().unwrap());
    assert_eq!(
        auth.authenticate(&bad).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn introspection_retries_server_errors_and_reports_an_unreachable_auth_service_as_503() {
    let fake = FakeAuth::default();
    *fake.failures.lock().unwrap() = vec![502, 503];
    let base = serve_fake(fake.clone()).await;
    let (auth, _) = client(&base).await;
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", "sk_valid".parse().unwrap());
    auth.authenticate(&headers).await.unwrap().unwrap();
    assert_eq!(
        fake.introspections.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );

    let (down, _) = client("http://127.0.0.1:1").await;
    let err = down.authenticate(&headers).await.unwrap_err();
    assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !err.body().detail.contains("127.0.0.1"),
        "no internals in the client message"
    );
}
