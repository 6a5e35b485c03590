//! API keys: shown once, stored hashed, scoped, revocable at once, tenant-scoped.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{expect_error, expect_json, spawn_signed_up};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_api_key_is_shown_once_and_authenticates_with_either_header(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let scopes = json!(["agents:read", "users:read"]);
    let created = app
        .create_key(&session.access, json!({"name": "ci", "scopes": scopes}))
        .await;
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("sk_") && key.len() >= 3 + 43, "{key}");
    assert_eq!(created["scopes"], json!(["agents:read", "users:read"]));
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    let stored: Vec<u8> = sqlx::query_scalar("select key_hash from auth.api_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only a SHA-256 is stored");

    let listed = app.fetch(&session.access, "/api-keys").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("key").is_none() && !listed.to_string().contains(key));

    let me = app.fetch(key, "/auth/me").await;
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(
        me["permissions"],
        json!(["agents:read", "users:read"]),
        "a key acts with its scopes only"
    );
    let resp = app.get_public("/auth/me", &[("x-api-key", key)]).await;
    expect_json(resp, StatusCode::OK).await;
    app.fetch(key, "/users").await;
    let body = json!({"name": "x"});
    app.refused(key, "POST /api-keys", Some(&body), 403, "api_keys:manage")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_revoked_key_stops_working_immediately(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let created = app.create_key(&session.access, json!({"name": "ci"})).await;
    let key = created["key"].as_str().unwrap();
    app.fetch(key, "/auth/me").await; // now cached
    app.revoke_key(&session.access, &created).await;
    app.refused(key, "GET /auth/me", None, 401, "revoked").await;
    let delete = format!("DELETE /api-keys/{}", created["id"].as_str().unwrap());
    app.refused(&session.access, &delete, None, 404, "not found")
        .await;
    let events: Vec<String> = sqlx::query_scalar(
        "select event from auth.audit_log where event like 'api_key.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(events, ["api_key.created", "api_key.revoked"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn key_scopes_must_be_known_and_held_by_the_creator(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let unknown = json!({"name": "x", "scopes": ["root:everything"]});
    let body = app
        .refused(
            &session.access,
            "POST /api-keys",
            Some(&unknown),
            422,
            "unknown permission",
        )
        .await;
    assert_eq!(body["errors"][0]["field"], "scopes[0]");
    app.expect_refusals(
        &session.access,
        &[
            ("POST /api-keys", Some(json!({"name": "  "})), 422, "name"),
            (
                "POST /api-keys",
                Some(json!({"name": "x", "expires_in_days": 0})),
                422,
                "expires_in_days",
            ),
        ],
    )
    .await;

    // A developer cannot mint a key with a permission it lacks.
    let dev = app.create(&session.access, "/users", &json!({"email": "dev@example.com", "password": crate::helpers::PASSWORD, "role": "developer"})).await;
    assert_eq!(dev["roles"], json!(["developer"]));
    let tokens = app.tokens("dev@example.com").await;
    let dev_token = tokens["access_token"].as_str().unwrap();
    let body = json!({"name": "x", "scopes": ["users:manage"]});
    app.refused(
        dev_token,
        "POST /api-keys",
        Some(&body),
        422,
        "you do not hold",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn expired_keys_are_rejected(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let body = json!({"name": "ci", "expires_in_days": 1});
    let created = app.create_key(&session.access, body).await;
    sqlx::query("update auth.api_keys set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    app.refused(key, "GET /auth/me", None, 401, "expired").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_retried_create_with_an_idempotency_key_never_mints_a_second_key_or_stores_the_secret(
    pool: PgPool,
) {
    let (app, session) = spawn_signed_up(pool).await;
    let body = json!({"name": "ci"});
    let create = || app.post_idempotent(&session.access, "/api-keys", "create-ci-key-1", &body);
    let first = create().await;
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first = expect_json(first, StatusCode::CREATED).await;
    let second = create().await;
    let body = expect_error(second, StatusCode::CONFLICT, "one-time secret").await;
    assert_eq!(body["code"], "idempotent_response_not_replayable");
    let keys = app.count("select count(*) from auth.api_keys").await;
    assert_eq!(keys, 1);
    let stored: Option<Vec<u8>> = sqlx::query_scalar("select body from platform.idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        stored.is_none(),
        "the key must not be kept in the idempotency store"
    );
    assert!(first["key"].as_str().unwrap().starts_with("sk_"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_retried_user_creation_with_an_idempotency_key_replays_the_first_response(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let body = json!({"email": "bob@example.com", "password": crate::helpers::PASSWORD});
    let create = || app.post_idempotent(&session.access, "/users", "add-bob", &body);
    let first = expect_json(create().await, StatusCode::CREATED).await;
    let second = create().await;
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(second, StatusCode::CREATED).await, first);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_scoped_key_can_only_create_keys_within_its_own_scopes(pool: PgPool) {
    let (app, session) = spawn_signed_up(pool).await;
    let scopes = json!(["api_keys:manage", "agents:read"]);
    let scoped = app
        .create_key(
            &session.access,
            json!({"name": "keymaker", "scopes": scopes}),
        )
        .await;
    let scoped = scoped["key"].as_str().unwrap();

    // "No scopes" from a key means the key's own scopes, not everything its owner may do.
    let minted = app
        .create_key(scoped, json!({"name": "child", "scopes": []}))
        .await;
    assert_eq!(minted["scopes"], json!(["agents:read", "api_keys:manage"]));
    let child = minted["key"].as_str().unwrap();
    let me = app.fetch(child, "/auth/me").await;
    assert_eq!(me["permissions"], json!(["agents:read", "api_keys:manage"]));
    app.refused(child, "GET /users", None, 403, "users:read")
        .await;
    // Naming a scope it lacks is refused outright.
    let body = json!({"name": "x", "scopes": ["users:manage"]});
    app.refused(scoped, "POST /api-keys", Some(&body), 422, "users:manage")
        .await;
    // A user's own key with no scopes still acts with all of the user's permissions.
    let full = app
        .create_key(&session.access, json!({"name": "full"}))
        .await;
    assert_eq!(full["scopes"], json!([]));
}
