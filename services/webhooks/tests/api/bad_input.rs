//! Bad input at the edge of the webhooks API: NUL characters in endpoint fields, event
//! payloads and query parameters, and numbers JSON cannot carry exactly, are a 422 naming the
//! field before anything reaches Postgres; an exact payload is published unchanged.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::endpoints::{api_signed_up, api_subscribed, hook};
use temponest_test_client::fixtures::count;

use temponest_test_client::expect_field_error;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn nul_characters_in_an_event_are_422s_naming_the_field(pool: PgPool) {
    // Subscribed to everything: an event that got through would leave a delivery.
    let (app, ada) = api_subscribed(pool, &["*"]).await;
    for (body, field) in [
        (
            json!({"event_type": "order.paid", "payload": {"note": "a\u{0}"}}),
            "payload.note",
        ),
        (
            json!({"event_type": "order.paid", "payload": {"lines": [{"sku\u{0}": 1}]}}),
            "payload.lines[0].sku\\u0000",
        ),
        (
            json!({"event_type": "order.paid\u{0}", "payload": {}}),
            "event_type",
        ),
        (
            json!({"event_type": "order.paid", "payload": {}, "idempotency_key": "\u{0}"}),
            "idempotency_key",
        ),
    ] {
        expect_field_error(app.post(&ada.token, "/events", &body).await, field, "").await;
    }
    let published = count(&app.pool, "select count(*) from platform.outbox").await;
    let delivered = count(&app.pool, "select count(*) from webhooks.deliveries").await;
    assert_eq!((published, delivered), (0, 0), "nothing was published");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn numbers_an_event_payload_cannot_carry_exactly_are_422s(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    for number in [
        "1e-400",
        "1e400",
        "1180591620717411303424",
        "0.1000000000000000000001",
    ] {
        let body = format!(r#"{{"event_type": "order.paid", "payload": {{"amount": {number}}}}}"#);
        app.refused_raw(&ada.token, "POST /events", &body, "payload.amount", "")
            .await;
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_exact_event_payload_is_published_unchanged(pool: PgPool) {
    let (app, ada) = api_subscribed(pool, &["order.paid"]).await;
    let payload = r#"{"tenth": 0.1, "thousands": 1.5e3, "two_53": 9007199254740992,
        "u64_max": 18446744073709551615, "nested": {"list": [-0.5, {"deep": "x"}], "none": null}}"#;
    let body = format!(r#"{{"event_type": "order.paid", "payload": {payload}}}"#);
    app.call_raw(&ada.token, "POST /events", &body, 202).await;
    let stored: Value = sqlx::query_scalar(
        "select payload from webhooks.deliveries where event_type = 'order.paid'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let sent: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(stored, sent);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn nul_characters_in_webhook_fields_are_422s_naming_the_field(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let named = hook("bad\u{0}");
    let mut header = hook("headers");
    header["headers"] = json!({"X-Team": "a\u{0}b"});
    let mut event = hook("events");
    event["events"] = json!(["agent.created", "\u{0}"]);
    for (body, field) in [
        (named, "name"),
        (header, "headers.X-Team"),
        (event, "events[1]"),
    ] {
        expect_field_error(app.post(&ada.token, "/webhooks/", &body).await, field, "").await;
    }
    let created = app.create(&ada.token, "/webhooks/", &hook("fine")).await;
    let id = created["id"].as_str().unwrap();
    let body = json!({"url": "http://127.0.0.1:9/\u{0}"});
    let resp = app
        .patch(&ada.token, &format!("/webhooks/{id}"), &body)
        .await;
    expect_field_error(resp, "url", "").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_nul_character_in_a_webhooks_query_parameter_is_a_422(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = app.create(&ada.token, "/webhooks/", &hook("fine")).await;
    let id = created["id"].as_str().unwrap();
    for (path, field) in [
        (format!("/webhooks/{id}/deliveries?status=%00"), "status"),
        (
            "/webhooks/?limit=1&is_active=true%00".to_owned(),
            "is_active",
        ),
        ("/webhooks/events?unused%00=1".to_owned(), "unused\\u0000"),
    ] {
        expect_field_error(app.get(&ada.token, &path).await, field, "").await;
    }
}
