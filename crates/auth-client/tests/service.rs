//! Service identities: [`ServiceTokens`] against a stand-in auth server (a real local HTTP
//! server counting requests), and [`AuthClient::verify_token`] accepting service tokens
//! without a session check.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use temponest_auth_client::jwks::{Jwk, Jwks};
use temponest_auth_client::service::service_subject;
use temponest_auth_client::{
    AccessClaims, AuthClient, Introspector, JwtVerifier, Peer, PeerClient, PeerError, Principal,
    PrincipalKind, ServiceCallError, ServiceTokenError, ServiceTokens, TokenType, claims::ISSUER,
};
use temponest_web::ApiError;
use uuid::Uuid;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A stand-in `POST /auth/service-token`: counts requests, answers scripted failures first,
/// refuses a wrong secret with 401 and otherwise issues a numbered token.
#[derive(Clone, Default)]
struct FakeAuth {
    requests: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<u16>>>,
}

async fn serve_fake(fake: FakeAuth) -> String {
    let app = Router::new()
        .route(
            "/auth/service-token",
            post(
                |State(f): State<FakeAuth>, axum::Json(body): axum::Json<Value>| async move {
                    let n = f.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Some(status) = f.failures.lock().unwrap().pop() {
                        let status = StatusCode::from_u16(status).unwrap();
                        return (status, axum::Json(json!({"detail": "down"}))).into_response();
                    }
                    if body["client_secret"] != SECRET {
                        let detail = json!({"detail": "invalid service client credentials"});
                        return (StatusCode::UNAUTHORIZED, axum::Json(detail)).into_response();
                    }
                    axum::Json(json!({
                        "access_token": format!("token-{n}"), "token_type": "bearer",
                        "expires_in": 300, "tenant_id": body["tenant_id"],
                        "permissions": ["agents:read", "agents:execute"],
                    }))
                    .into_response()
                },
            ),
        )
        .with_state(fake);
    common::serve(app).await
}

async fn tokens(secret: &str) -> (ServiceTokens, FakeAuth) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeAuth::default();
    let base = serve_fake(fake.clone()).await;
    let tokens = ServiceTokens::new(&base, "scheduler", secret, reqwest::Client::new());
    (tokens, fake)
}

#[tokio::test]
async fn a_token_is_cached_per_tenant_until_it_is_invalidated() {
    let (tokens, fake) = tokens(SECRET).await;
    let (tenant, other) = (Uuid::now_v7(), Uuid::now_v7());

    let first = tokens.token(tenant).await.unwrap();
    assert_eq!(tokens.token(tenant).await.unwrap(), first);
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        1,
        "the second call is cached"
    );

    assert_ne!(tokens.token(other).await.unwrap(), first);
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        2,
        "one token per tenant"
    );

    tokens.invalidate(tenant).await;
    let refetched = tokens.token(tenant).await.unwrap();
    assert_ne!(refetched, first);
    assert_eq!(fake.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrent_callers_for_one_tenant_share_one_request() {
    let (tokens, fake) = tokens(SECRET).await;
    let tenant = Uuid::now_v7();
    let all = futures::future::join_all((0..8).map(|_| tokens.token(tenant))).await;
    let first = all[0].as_ref().unwrap();
    assert!(all.iter().all(|t| t.as_ref().unwrap() == first));
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refusal_from_auth_is_rejected_without_retries() {
    let (tokens, fake) = tokens("not-the-secret-not-the-secret-xx").await;
    let err = tokens.token(Uuid::now_v7()).await.unwrap_err();
    match &err {
        ServiceTokenError::Rejected(detail) => {
            assert!(
                detail.contains("401") && detail.contains("invalid service client"),
                "{detail}"
            )
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1, "not retried");
    assert!(!format!("{tokens:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn server_errors_are_retried_and_an_unreachable_auth_is_unavailable() {
    let (tokens, fake) = tokens(SECRET).await;
    *fake.failures.lock().unwrap() = vec![503];
    assert_eq!(tokens.token(Uuid::now_v7()).await.unwrap(), "token-2");
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        2,
        "one failure, then success"
    );

    let down = ServiceTokens::new(
        "http://127.0.0.1:1",
        "scheduler",
        SECRET,
        reqwest::Client::new(),
    );
    assert!(matches!(
        down.token(Uuid::now_v7()).await,
        Err(ServiceTokenError::Unavailable(_))
    ));
}

/// A callee that records the bearer tokens it is sent and accepts only `accepted`.
async fn serve_callee(accepted: &'static str, seen: Arc<Mutex<Vec<String>>>) -> String {
    let app = Router::new().route(
        "/work",
        post(move |headers: axum::http::HeaderMap| async move {
            let bearer = headers["authorization"].to_str().unwrap().to_owned();
            seen.lock().unwrap().push(bearer.clone());
            if bearer == format!("Bearer {accepted}") {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        }),
    );
    common::serve(app).await
}

#[tokio::test]
async fn a_call_refused_with_401_is_sent_once_more_with_a_fresh_token() {
    let (tokens, fake) = tokens(SECRET).await;
    let tenant = Uuid::now_v7();
    let http = reqwest::Client::new();

    // The cached token-1 is refused (revoked, say): dropped, token-2 fetched, call repeated.
    // Then a callee that refuses every token gets one refresh, and its 401 is the answer.
    let mut seen_by = Vec::new();
    for (accepted, answered) in [
        ("token-2", StatusCode::OK),
        ("never", StatusCode::UNAUTHORIZED),
    ] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let callee = serve_callee(accepted, seen.clone()).await;
        let answer = tokens
            .send(tenant, || http.post(format!("{callee}/work")))
            .await
            .unwrap();
        assert_eq!(answer.status(), answered);
        seen_by.push((callee, seen));
    }
    assert_eq!(
        *seen_by[0].1.lock().unwrap(),
        ["Bearer token-1", "Bearer token-2"]
    );
    assert_eq!(
        *seen_by[1].1.lock().unwrap(),
        ["Bearer token-2", "Bearer token-3"]
    );
    assert_eq!(fake.requests.load(Ordering::SeqCst), 3);
    let (callee, refused) = &seen_by[1];

    // No token, nothing sent; no answer, a transport failure.
    let (refusing, _) = self::tokens("not-the-secret-not-the-secret-xx").await;
    let err = refusing
        .send(tenant, || http.post(format!("{callee}/work")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceCallError::Token(ServiceTokenError::Rejected(_))),
        "{err:?}"
    );
    assert_eq!(
        refused.lock().unwrap().len(),
        2,
        "nothing sent without a token"
    );
    let err = tokens
        .send(tenant, || http.post("http://127.0.0.1:1/work"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceCallError::Transport(e) if e.is_connect()),
        "{err:?}"
    );
}

/// A peer that answers the scripted statuses in order (then 200), counting requests; a 429
/// asks for no wait, a 4xx carries a detail, and `0` is an answer that never comes.
async fn serve_peer(script: Vec<u16>, requests: Arc<AtomicUsize>) -> String {
    let script = Arc::new(Mutex::new(script.into_iter()));
    let app = Router::new().route(
        "/work",
        post(move || async move {
            requests.fetch_add(1, Ordering::SeqCst);
            let status = script.lock().unwrap().next().unwrap_or(200);
            if status == 0 {
                std::future::pending::<()>().await;
            }
            let status = StatusCode::from_u16(status).unwrap();
            let detail = axum::Json(json!({"detail": format!("scripted {}", status.as_u16())}));
            ([("retry-after", "0")], (status, detail)).into_response()
        }),
    );
    common::serve(app).await
}

/// "Kind: message" of a failed peer call, "ok" of an answered one.
fn outcome(answer: Result<reqwest::Response, PeerError>) -> String {
    match answer {
        Ok(response) => format!("ok {}", response.status().as_u16()),
        Err(err @ PeerError::NotFound(_)) => format!("NotFound: {err}"),
        Err(err @ PeerError::Rejected(_)) => format!("Rejected: {err}"),
        Err(err @ PeerError::Unavailable(_)) => format!("Unavailable: {err}"),
    }
}

#[tokio::test]
async fn a_peer_call_is_classified_and_repeated_only_where_that_is_safe() {
    let (tokens, _) = tokens(SECRET).await;
    let (refusing, _) = self::tokens("not-the-secret-not-the-secret-xx").await;
    let tenant = Uuid::now_v7();
    let peer = Peer::new("agents service", 2, Duration::from_millis(1));
    // (answers scripted, repeatable, outcome begins with, requests the peer saw)
    let cases: [(&[u16], bool, &str, usize); 11] = [
        (&[503, 502], true, "ok 200", 3),
        (
            &[503, 503, 504],
            true,
            "Unavailable: agents service answered 504",
            3,
        ),
        (&[503], false, "Unavailable: agents service answered 503", 1),
        (&[429, 429], false, "ok 200", 3),
        (&[500], true, "Unavailable: agents service answered 500", 1),
        (
            &[404],
            true,
            "NotFound: agents service answered 404 Not Found: scripted 404",
            1,
        ),
        (
            &[422],
            true,
            "Rejected: agents service answered 422 Unprocessable Entity: scripted",
            1,
        ),
        (
            &[409, 503],
            true,
            "Rejected: agents service answered 409",
            1,
        ),
        (&[0, 0], true, "ok 200", 3),
        (&[0], false, "Unavailable: agents service call failed", 1),
        (
            &[],
            true,
            "Rejected: the auth service refused the service identity `scheduler`",
            0,
        ),
    ];
    for (index, (script, repeatable, expected, sent)) in cases.into_iter().enumerate() {
        let requests = Arc::new(AtomicUsize::new(0));
        let base = serve_peer(script.to_vec(), requests.clone()).await;
        // The last case calls as an identity auth refuses: nothing is sent.
        let tokens = if index == cases.len() - 1 {
            &refusing
        } else {
            &tokens
        };
        let client = PeerClient::new(
            peer,
            &base,
            tokens.clone(),
            Some(Duration::from_millis(200)),
        )
        .unwrap();
        let answer = client
            .call(tenant, repeatable, |http| http.post(client.url("/work")))
            .await;
        let case = format!("{script:?} repeatable={repeatable}");
        let got = outcome(answer);
        assert!(got.starts_with(expected), "{case}: {got}");
        assert_eq!(requests.load(Ordering::SeqCst), sent, "{case}");
    }

    // Nothing listens: sent again (nothing ran) even when not repeatable, then unavailable.
    let client = PeerClient::new(peer, "http://127.0.0.1:1/", tokens, None).unwrap();
    let got = outcome(
        client
            .call(tenant, false, |http| http.post(client.url("/work")))
            .await,
    );
    assert!(
        got.starts_with("Unavailable: agents service unreachable"),
        "{got}"
    );
}

/// An introspector that must not be asked: service tokens have no session.
#[derive(Default)]
struct CountingIntrospector {
    calls: AtomicUsize,
}

impl Introspector for CountingIntrospector {
    fn resolve<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Principal>, ApiError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(None) })
    }

    fn session_live<'a>(
        &'a self,
        _sid: Uuid,
        _token: &'a str,
    ) -> BoxFuture<'a, Result<bool, ApiError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(true) })
    }
}

const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn service_token(encoding: &EncodingKey, tenant: Uuid, client: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        sub: service_subject("scheduler"),
        tenant_id: tenant,
        email: "scheduler@service.temponest.internal".into(),
        roles: vec![temponest_auth_client::permissions::Role::Service],
        // A token claiming more than the client's scopes gets only the scopes.
        permissions: vec![
            temponest_auth_client::permissions::AGENTS_READ,
            temponest_auth_client::permissions::AGENTS_EXECUTE,
            temponest_auth_client::permissions::USERS_MANAGE,
        ],
        jti: Uuid::now_v7(),
        sid: Uuid::nil(),
        iat: now,
        exp: now + 300,
        iss: ISSUER.into(),
        token_type: TokenType::Service,
        client: client.map(str::to_owned),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, encoding).unwrap()
}

#[tokio::test]
async fn service_tokens_verify_without_a_session_check_and_must_name_a_known_client() {
    let seed = [7u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    let encoding = EncodingKey::from_ed_der(&der);
    let verifier = JwtVerifier::new();
    verifier.set_jwks(&Jwks {
        keys: vec![Jwk::ed25519("k1", URL_SAFE_NO_PAD.encode(public))],
    });
    let cache = common::cache().await;
    let introspector = Arc::new(CountingIntrospector::default());
    let auth = AuthClient::new(verifier, introspector.clone(), cache);
    let tenant = Uuid::now_v7();

    let principal = auth
        .verify_token(&service_token(&encoding, tenant, Some("scheduler")))
        .await
        .unwrap();
    assert_eq!(
        principal.kind,
        PrincipalKind::Service {
            client: "scheduler".into()
        }
    );
    assert_eq!(principal.tenant_id, tenant);
    assert_eq!(principal.user_id, service_subject("scheduler"));
    assert_eq!(
        principal.permissions,
        [
            temponest_auth_client::permissions::AGENTS_READ,
            temponest_auth_client::permissions::AGENTS_EXECUTE
        ]
    );
    assert_eq!(
        introspector.calls.load(Ordering::SeqCst),
        0,
        "no session check"
    );

    for client in [None, Some("root")] {
        let err = auth
            .verify_token(&service_token(&encoding, tenant, client))
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(
            err.detail.contains("no known service client"),
            "{}",
            err.detail
        );
    }
}
