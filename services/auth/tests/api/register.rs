//! Registration: tenant creation, validation, duplicates.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use temponest_test_client::fixtures::texts;

use crate::helpers::{Api, PASSWORD, expect_error, expect_json, spawn};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn registering_creates_a_tenant_whose_first_user_is_its_admin(pool: PgPool) {
    let app = spawn(pool).await;
    let resp = app.post_public("/auth/register", &json!({"email": " Ada@Example.com ", "password": PASSWORD, "full_name": "Ada Lovelace"})).await;
    let user = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["id"], user["user_id"]);
    assert_eq!(user["roles"], json!(["admin"]));
    assert_eq!(user["tenant_name"], "Ada Lovelace");
    assert!(
        user["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("users:manage"))
    );
    assert_eq!(user["is_active"], true);
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"));
    let stored: String = sqlx::query_scalar("select password_hash from auth.users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    let events: Vec<String> = sqlx::query_scalar("select event from auth.audit_log")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, ["register"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn registering_an_existing_email_is_a_conflict(pool: PgPool) {
    let app = spawn(pool).await;
    app.register("dup@example.com").await;
    let body = json!({"email": "DUP@example.com", "password": PASSWORD});
    refuse(&app, body, 409, "already exists").await;
    let tenants = app.count("select count(*) from auth.tenants").await;
    assert_eq!(tenants, 1, "the failed registration left no tenant behind");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn invalid_registrations_get_422_with_every_field_named(pool: PgPool) {
    let app = spawn(pool).await;
    let body = json!({"email": "not-an-email", "password": "short"});
    let body = refuse(&app, body, 422, "email").await;
    let fields = texts(&body["errors"], "field");
    assert_eq!(fields, ["email", "password"]);

    let long = "x".repeat(1025);
    let body = json!({"email": "a@example.com", "password": long});
    refuse(&app, body, 422, "at most 1024").await;

    let body = json!({"email": 5, "password": PASSWORD});
    let body = refuse(&app, body, 422, "invalid type").await;
    assert_eq!(body["errors"][0]["field"], "email");

    let body = json!({"password": PASSWORD});
    refuse(&app, body, 422, "missing field `email`").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn malformed_oversized_and_non_json_bodies_get_clear_4xx(pool: PgPool) {
    let app = spawn(pool).await;
    let resp = app
        .http
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "malformed JSON").await;

    let resp = app
        .http
        .post(app.url("/auth/register"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json").await;

    let huge = json!({"email": "a@example.com", "password": "p".repeat(2 * 1024 * 1024)});
    refuse(&app, huge, 413, "too large").await;
}

/// Registers with `body` and asserts the refusal.
async fn refuse(api: &Api, body: Value, status: u16, needle: &str) -> Value {
    api.refused_public("POST /auth/register", Some(&body), status, needle)
        .await
}
