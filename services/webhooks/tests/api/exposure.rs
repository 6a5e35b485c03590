//! What the webhooks API must never expose or allow: signing secrets stored by the
//! idempotency layer, receiver credentials (custom header values) shown to readers, and an
//! unbounded number of endpoints per tenant.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::endpoints::{api, hook, viewer, webhook};
use temponest_test_client::fixtures::count;

use crate::helpers::{config, expect_error, expect_json, spawn_with};

/// What the idempotency layer stored for a key: (status, body).
async fn stored(pool: &PgPool, key: &str) -> (Option<i16>, Option<Vec<u8>>) {
    sqlx::query_as("select status, body from platform.idempotency_keys where key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn signing_secrets_are_never_stored_by_the_idempotency_layer(pool: PgPool) {
    let app = api(pool).await;
    let admin = app.signup("ada@example.com").await;
    let send = async |path: &str, key: &str, body: serde_json::Value| {
        app.post_idempotent(&admin.token, path, key, &body).await
    };

    let created = send("/webhooks/", "create-1", hook("orders")).await;
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created = expect_json(created, StatusCode::CREATED).await;
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let (status, body) = stored(&app.pool, "create-1").await;
    assert_eq!(status, Some(201));
    assert_eq!(body, None, "the response with the secret was stored");
    // A repeat is told the first succeeded; it gets neither the secret nor a second endpoint.
    expect_error(
        send("/webhooks/", "create-1", hook("orders")).await,
        StatusCode::CONFLICT,
        "one-time secret",
    )
    .await;

    let id = created["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}/rotate-secret");
    let rotated = send(&path, "rotate-1", json!({})).await;
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    expect_json(rotated, StatusCode::OK).await;
    assert_eq!(stored(&app.pool, "rotate-1").await, (Some(200), None));

    let leaked = count(&app.pool, "select count(*) from platform.idempotency_keys where position('whsec_' in convert_from(coalesce(body, ''), 'UTF8')) > 0").await;
    assert_eq!(leaked, 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn readers_see_custom_header_names_but_never_their_values(pool: PgPool) {
    let app = api(pool).await;
    let admin = app.signup("ada@example.com").await;
    let mut body = hook("with-credentials");
    body["headers"] = json!({"Authorization": "Bearer receiver-credential", "X-Team": "ops"});
    let created = webhook(&app, &admin.token, body).await;
    let id = created["id"].as_str().unwrap();
    // Names are stored lower-case.
    assert_eq!(
        created["headers"]["authorization"],
        "Bearer receiver-credential"
    );

    let manager_view = app.fetch(&admin.token, &format!("/webhooks/{id}")).await;
    assert_eq!(
        manager_view["headers"]["authorization"],
        "Bearer receiver-credential"
    );

    let reader = viewer(&app, &admin.token).await;
    let one = app.fetch(&reader, &format!("/webhooks/{id}")).await;
    let list = app.fetch(&reader, "/webhooks/").await;
    for shown in [&one, &list[0]] {
        assert_eq!(
            shown["headers"],
            json!({"authorization": "[redacted]", "x-team": "[redacted]"})
        );
    }
    assert!(!list.to_string().contains("receiver-credential"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_tenant_cannot_create_more_endpoints_than_its_cap(pool: PgPool) {
    let mut settings = config();
    settings.webhooks.max_endpoints_per_tenant = 2;
    let app = spawn_with(pool, settings, false).await;
    let ada = app.signup("ada@example.com").await;
    let first = webhook(&app, &ada.token, hook("one")).await;
    webhook(&app, &ada.token, hook("two")).await;
    app.refused(
        &ada.token,
        "POST /webhooks/",
        Some(&hook("three")),
        409,
        "2 webhook endpoints",
    )
    .await;
    // Another tenant has its own allowance; a deleted endpoint frees a place.
    let bob = app.signup("bob@example.com").await;
    webhook(&app, &bob.token, hook("one")).await;
    let deleted = app
        .delete(
            &ada.token,
            &format!("/webhooks/{}", first["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    webhook(&app, &ada.token, hook("three")).await;
    let live = count(
        &app.pool,
        "select count(*) from webhooks.endpoints where deleted_at is null",
    )
    .await;
    assert_eq!(live, 3);
}
