//! Bad input at the edge of the API: NUL characters anywhere in a body or a query string and
//! numbers JSON cannot carry exactly are a 422 naming the field (never a 500 from Postgres,
//! never a silently changed value); exact numbers and nested metadata round-trip unchanged;
//! unknown routes and wrong methods answer with the SPEC §2 error body.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, echo_agent, expect_error, spawn_ada};
use temponest_test_client::expect_field_error;

async fn agent_id(app: &TestApp, token: &str) -> String {
    let agent = app.agent(token, echo_agent("Clean", "m")).await;
    agent["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_nul_character_in_an_agent_name_is_a_422_naming_the_field(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let resp = app
        .post(
            &ada.token,
            "/agents/",
            &json!({"name": "bad\u{0}name", "model": "m"}),
        )
        .await;
    expect_field_error(resp, "name", "NUL").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn nul_characters_in_metadata_keys_values_and_arrays_are_422s_naming_the_path(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    for (metadata, field) in [
        (json!({"note": "a\u{0}b"}), "metadata.note"),
        (json!({"outer": {"k\u{0}": 1}}), "metadata.outer.k\\u0000"),
        (json!({"tags": ["fine", "\u{0}"]}), "metadata.tags[1]"),
        (
            json!({"deep": [{"x": [1, {"y": "\u{0}"}]}]}),
            "metadata.deep[0].x[1].y",
        ),
    ] {
        let resp = app
            .post(
                &ada.token,
                "/agents/",
                &json!({"name": "Meta", "model": "m", "metadata": metadata}),
            )
            .await;
        expect_field_error(resp, field, "NUL").await;
    }
    let list = app.fetch(&ada.token, "/agents/").await;
    assert_eq!(list, json!([]), "nothing was created");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_escaped_backslash_before_u0000_is_text_not_a_nul(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let body = r#"{"name": "Slash", "model": "m", "metadata": {"path": "C:\\u0000"}}"#;
    let agent = app.call_raw(&ada.token, "POST /agents/", body, 201).await;
    assert_eq!(agent["metadata"]["path"], "C:\\u0000");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn nul_characters_in_an_agent_patch_and_an_execution_are_422s(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let id = agent_id(&app, &ada.token).await;
    let agent = format!("/agents/{id}");
    for (patch, field) in [
        (json!({"description": "x\u{0}"}), "description"),
        (json!({"metadata": {"a": {"b": "\u{0}"}}}), "metadata.a.b"),
    ] {
        let resp = app.patch(&ada.token, &agent, &patch).await;
        expect_field_error(resp, field, "NUL").await;
    }
    let execute = format!("/agents/{id}/execute");
    let with_context = json!({"user_message": "hello", "context": {"k\u{0}": "v"}});
    for (run, field) in [
        (json!({"user_message": "hello\u{0}"}), "user_message"),
        (with_context, "context.k\\u0000"),
    ] {
        let resp = app.post(&ada.token, &execute, &run).await;
        expect_field_error(resp, field, "NUL").await;
    }
    let executions = app.fetch(&ada.token, "/executions").await;
    assert_eq!(executions, json!([]), "nothing ran");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_nul_character_in_a_query_parameter_is_a_422_naming_the_parameter(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    for (path, field) in [
        ("/agents/?search=%00", "search"),
        ("/agents?skip=0&search=a%00b", "search"),
        ("/executions?status=%00", "status"),
    ] {
        expect_field_error(app.get(&ada.token, path).await, field, "NUL").await;
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn numbers_json_cannot_carry_exactly_are_422s_naming_the_path(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    for (number, field) in [
        ("1e-400", "metadata.tiny"),
        ("1e400", "metadata.tiny"),
        ("1180591620717411303424", "metadata.tiny"),
        ("18446744073709551616", "metadata.tiny"),
        ("-9223372036854775809", "metadata.tiny"),
        ("0.10000000000000000001", "metadata.tiny"),
    ] {
        let body = format!(r#"{{"name": "N", "model": "m", "metadata": {{"tiny": {number}}}}}"#);
        app.refused_raw(&ada.token, "POST /agents/", &body, field, "exactly")
            .await;
    }
    let id = agent_id(&app, &ada.token).await;
    let list = r#"{"metadata": {"list": [1, 2, 1e-400]}}"#;
    let patch = format!("PATCH /agents/{id}");
    app.refused_raw(&ada.token, &patch, list, "metadata.list[2]", "exactly")
        .await;
    let context = r#"{"user_message": "hi", "context": {"n": 1180591620717411303424}}"#;
    let execute = format!("POST /agents/{id}/execute");
    app.refused_raw(&ada.token, &execute, context, "context.n", "exactly")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn exact_numbers_and_nested_metadata_round_trip_unchanged(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let metadata = r#"{"tenth": 0.1, "thousands": 1.5e3, "two_53": 9007199254740992,
        "fits_i64": 123456789012345678, "u64_max": 18446744073709551615,
        "i64_min": -9223372036854775808, "negative_zero": -0, "small": 2.5e-300,
        "nested": {"list": [1, -0.5, {"deep": "text"}, [true, null]], "empty": {}}}"#;
    let body = format!(r#"{{"name": "Exact", "model": "m", "metadata": {metadata}}}"#);
    let created = app.call_raw(&ada.token, "POST /agents/", &body, 201).await;
    let sent: Value = serde_json::from_str(metadata).unwrap();
    assert_eq!(created["metadata"], sent);
    let id = created["id"].as_str().unwrap();
    let fetched = app.fetch(&ada.token, &format!("/agents/{id}")).await;
    assert_eq!(fetched["metadata"], sent, "stored and read back exactly");
    assert_eq!(
        fetched["metadata"]["u64_max"].as_u64(),
        Some(u64::MAX),
        "still an integer"
    );
    assert_eq!(fetched["metadata"]["two_53"].as_u64(), Some(1 << 53));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unknown_routes_and_wrong_methods_answer_with_the_error_body(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let body = app
        .refused(&ada.token, "GET /no/such/route", None, 404, "not found")
        .await;
    assert_eq!(body["code"], "not_found");
    let resp = app
        .http
        .put(app.url("/agents/"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    let allow = resp.headers().get("allow").cloned();
    let body = expect_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method").await;
    assert_eq!(body["code"], "method_not_allowed");
    let allow = allow.expect("an Allow header");
    let allow = allow.to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}
