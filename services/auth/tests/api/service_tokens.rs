//! `POST /auth/service-token`: service identities for internal calls, what they may and may
//! not do, and the validation of the service-client configuration.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth::AuthConfig;
use temponest_platform::Settings;
use uuid::Uuid;

use crate::helpers::{Api, Options, Session, TestApp, expect_json, spawn_with};

const SECRET: &str = "5c0e9a7f21d84b36a1f7c3e90b2d5a48";

async fn spawn(pool: PgPool) -> TestApp {
    let mut options = Options::default();
    options.config.service_clients = format!("scheduler={SECRET}");
    spawn_with(pool, options).await
}

fn request(client: &str, secret: &str, tenant: &str) -> Value {
    json!({"client_id": client, "client_secret": secret, "tenant_id": tenant})
}

/// [`spawn`] and a signed-up tenant admin.
async fn spawn_signed_up(pool: PgPool) -> (TestApp, Session) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    (app, session)
}

/// Asks for a service token for the scheduler acting in `tenant`; asserts 200.
async fn issue(api: &Api, tenant: &str) -> Value {
    let body = request("scheduler", SECRET, tenant);
    api.call_public("POST /auth/service-token", Some(&body), 200)
        .await
}

/// Asks for a service token with `body` and asserts the refusal.
async fn refuse(api: &Api, body: Value, status: u16, needle: &str) -> Value {
    api.refused_public("POST /auth/service-token", Some(&body), status, needle)
        .await
}

fn claims_of(token: &str) -> Value {
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_service_client_gets_a_short_lived_service_token_for_a_tenant(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;

    let resp = app
        .post_public(
            "/auth/service-token",
            &request("scheduler", SECRET, &session.tenant_id),
        )
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body = expect_json(resp, StatusCode::OK).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["tenant_id"], session.tenant_id);
    assert_eq!(
        body["permissions"],
        json!(["agents:read", "agents:execute"])
    );

    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["type"], "service");
    assert_eq!(claims["client"], "scheduler");
    assert_eq!(claims["tenant_id"], session.tenant_id);
    assert_eq!(
        claims["permissions"],
        json!(["agents:read", "agents:execute"])
    );
    assert_eq!(claims["roles"], json!(["service"]));
    assert_eq!(claims["email"], "scheduler@service.temponest.internal");
    assert_eq!(claims["sid"], Uuid::nil().to_string());
    let expected_exp = chrono::Utc::now().timestamp() + 300;
    assert!(
        (claims["exp"].as_i64().unwrap() - expected_exp).abs() <= 5,
        "{claims}"
    );

    // The same client always has the same subject.
    let again = issue(&app, &session.tenant_id).await;
    assert_eq!(
        claims_of(again["access_token"].as_str().unwrap())["sub"],
        claims["sub"]
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"auth_service_tokens_issued_total{client="scheduler"}"#),
        "the issue counter is exported"
    );
    let docs = expect_json(app.get_public("/openapi.json", &[]).await, StatusCode::OK).await;
    assert!(docs["paths"]["/auth/service-token"]["post"].is_object());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_wrong_secret_and_an_unknown_client_get_the_same_401(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let wrong_secret = format!("{SECRET}x");
    let mut details = Vec::new();
    for (client, secret) in [
        ("scheduler", wrong_secret.as_str()),
        ("root", SECRET),
        ("scheduler", ""),
    ] {
        let body = request(client, secret, &session.tenant_id);
        let body = refuse(&app, body, 401, "invalid service client credentials").await;
        details.push(body["detail"].clone());
    }
    assert!(details.windows(2).all(|w| w[0] == w[1]), "{details:?}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unknown_or_inactive_tenants_and_malformed_requests_are_refused(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;

    let unknown = Uuid::now_v7().to_string();
    let body = request("scheduler", SECRET, &unknown);
    refuse(&app, body, 404, "tenant not found").await;
    sqlx::query("update auth.tenants set is_active = false where id = $1")
        .bind(session.tenant_id.parse::<Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let body = request("scheduler", SECRET, &session.tenant_id);
    refuse(&app, body, 404, "tenant not found").await;

    for body in [
        json!({"client_id": "scheduler", "tenant_id": unknown}),
        request("scheduler", SECRET, "not-a-uuid"),
        json!({"client_id": 7, "client_secret": SECRET, "tenant_id": unknown}),
    ] {
        refuse(&app, body, 422, "").await;
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_service_token_authenticates_but_cannot_act_as_a_user(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let issued = issue(&app, &session.tenant_id).await;
    let token = issued["access_token"].as_str().unwrap();

    let tenant = app.fetch(token, "/tenants/current").await;
    assert_eq!(tenant["id"], session.tenant_id);
    let body = json!({"token": token});
    let introspected = app
        .call_public("POST /auth/introspect", Some(&body), 200)
        .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(
        introspected["principal"]["kind"],
        json!({"kind": "service", "client": "scheduler"})
    );
    assert_eq!(introspected["principal"]["tenant_id"], session.tenant_id);

    app.expect_refusals(
        token,
        &[
            ("GET /auth/me", None, 403, "service identities"),
            (
                "POST /api-keys",
                Some(json!({"name": "ci", "scopes": ["agents:read"]})),
                403,
                "creating API keys is not available to service identities",
            ),
            (
                "POST /auth/logout",
                Some(json!({})),
                403,
                "service identities",
            ),
            ("GET /users", None, 403, "users:read"),
        ],
    )
    .await;
}

#[test]
fn service_client_configuration_is_validated_without_echoing_secrets() {
    let with = |clients: &str| AuthConfig {
        service_clients: clients.to_owned(),
        ..AuthConfig::default()
    };
    assert!(with("").validate().is_ok());
    assert!(with(&format!("scheduler={SECRET}")).validate().is_ok());

    let short = with("scheduler=short-secret")
        .validate()
        .unwrap_err()
        .to_string();
    assert!(short.contains("TEMPONEST_SERVICE_CLIENTS"), "{short}");
    assert!(!short.contains("short-secret"), "{short}");
    let unknown = with(&format!("billing={SECRET}"))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("TEMPONEST_SERVICE_CLIENTS") && unknown.contains("billing"),
        "{unknown}"
    );
    assert!(!unknown.contains(SECRET), "{unknown}");

    let ttl = AuthConfig {
        service_token_ttl_secs: 3600,
        ..AuthConfig::default()
    };
    assert!(
        ttl.validate()
            .unwrap_err()
            .to_string()
            .contains("TEMPONEST_SERVICE_TOKEN_TTL_SECS")
    );
    let shown = format!("{:?}", with(&format!("scheduler={SECRET}")));
    assert!(
        !shown.contains(SECRET) && shown.contains("scheduler=[redacted]"),
        "{shown}"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_service_accepts_a_service_token_obtained_over_http(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let other = crate::remote::downstream(&app).await;
    let tokens = temponest_auth_client::ServiceTokens::new(
        &app.base,
        "scheduler",
        SECRET,
        reqwest::Client::new(),
    );
    let tenant: Uuid = session.tenant_id.parse().unwrap();

    let token = tokens.token(tenant).await.unwrap();
    assert_eq!(tokens.token(tenant).await.unwrap(), token, "cached");
    let whoami = other.fetch(&token, "/whoami").await;
    assert_eq!(
        whoami["kind"],
        json!({"kind": "service", "client": "scheduler"})
    );
    assert_eq!(whoami["tenant_id"], session.tenant_id);
    assert_eq!(
        whoami["permissions"],
        json!(["agents:read", "agents:execute"])
    );

    let refused = tokens.token(Uuid::now_v7()).await.unwrap_err();
    assert!(
        matches!(&refused, temponest_auth_client::ServiceTokenError::Rejected(d) if d.contains("tenant not found")),
        "{refused:?}"
    );
}
