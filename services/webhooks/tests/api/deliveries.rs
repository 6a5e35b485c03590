//! Deliveries over HTTP: test deliveries, the delivery log with attempts, manual retry and
//! recovery. No delivery engine runs, so rows stay as the API and the test leave them.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::endpoints::{api, api_signed_up, hook, webhook};
use temponest_test_client::fixtures::texts;

use crate::helpers::{TestApp, expect_json};
use crate::receiver::{assert_senders_woken, senders_listener};

/// Inserts a delivery of `endpoint` with `status`, created at `created_at`.
async fn delivery(
    app: &TestApp,
    endpoint: &Value,
    status: &str,
    created_at: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into webhooks.deliveries (id, tenant_id, endpoint_id, event_id, event_type,
                payload, event_created_at, status, attempt_count, created_at)
         values ($1, $2, $3, $4, 'agent.created', '{\"n\": 1}', $5, $6, 4, $5)",
    )
    .bind(id)
    .bind(
        endpoint["tenant_id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap(),
    )
    .bind(endpoint["id"].as_str().unwrap().parse::<Uuid>().unwrap())
    .bind(Uuid::now_v7())
    .bind(created_at)
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn status_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("select status from webhooks.deliveries where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_test_delivery_is_queued_for_the_sender(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let endpoint = webhook(&app, &ada.token, hook("Receiver")).await;
    let id = endpoint["id"].as_str().unwrap();
    let delivery = app
        .create(&ada.token, &format!("/webhooks/{id}/test"), &json!({}))
        .await;
    assert_eq!(delivery["status"], "pending");
    assert_eq!(delivery["event_type"], "webhook.test");
    assert_eq!(delivery["webhook_id"], id);
    assert_eq!(delivery["attempt_count"], 0);
    assert_eq!(delivery["payload"]["webhook_id"], id);
    assert_eq!(
        delivery["payload"]["message"],
        "This is a test delivery from TempoNest."
    );
    for field in ["outcome", "response_status", "error", "delivered_at"] {
        assert_eq!(delivery[field], Value::Null, "{field}");
    }
    let (tenant, endpoint_id, event_id, due): (Uuid, Uuid, Uuid, bool) = sqlx::query_as(
        "select tenant_id, endpoint_id, event_id, next_attempt_at <= now()
         from webhooks.deliveries where id = $1 and status = 'pending'",
    )
    .bind(delivery["id"].as_str().unwrap().parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tenant.to_string(), ada.tenant_id);
    assert_eq!(endpoint_id.to_string(), id);
    assert_eq!(event_id.to_string(), delivery["event_id"].as_str().unwrap());
    assert!(due, "due at once");

    let again = app
        .create(&ada.token, &format!("/webhooks/{id}/test"), &json!({}))
        .await;
    assert_ne!(
        again["event_id"], delivery["event_id"],
        "each test is a new event"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_disabled_endpoint_gets_no_test_delivery(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let mut body = hook("Off");
    body["is_active"] = json!(false);
    let endpoint = webhook(&app, &ada.token, body).await;
    let id = endpoint["id"].as_str().unwrap();
    let (request, empty) = (format!("POST /webhooks/{id}/test"), json!({}));
    let disabled = "endpoint is disabled";
    app.refused(&ada.token, &request, Some(&empty), 409, disabled)
        .await;
    let resp = app
        .get(&ada.token, &format!("/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(resp.headers()["x-total-count"], "0");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deliveries_are_listed_newest_first_and_shown_with_their_attempts(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let endpoint = webhook(&app, &ada.token, hook("Log")).await;
    let other = webhook(&app, &ada.token, hook("Other")).await;
    let now = Utc::now();
    let old = delivery(&app, &endpoint, "failed", now - Duration::hours(2)).await;
    let mid = delivery(&app, &endpoint, "success", now - Duration::hours(1)).await;
    let new = delivery(&app, &endpoint, "retrying", now).await;
    delivery(&app, &other, "failed", now).await;
    let path = format!("/webhooks/{}/deliveries", endpoint["id"].as_str().unwrap());

    for path in [path.clone(), format!("{path}/")] {
        let resp = app.get(&ada.token, &path).await;
        assert_eq!(resp.headers()["x-total-count"], "3");
        let list = expect_json(resp, StatusCode::OK).await;
        let ids = texts(&list, "id");
        assert_eq!(ids, vec![new.to_string(), mid.to_string(), old.to_string()]);
    }
    let resp = app.get(&ada.token, &format!("{path}?status=failed")).await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    let failed = expect_json(resp, StatusCode::OK).await;
    assert_eq!(failed[0]["id"], old.to_string());
    let page = app
        .fetch(&ada.token, &format!("{path}?skip=1&limit=1"))
        .await;
    assert_eq!(page[0]["id"], mid.to_string());
    let refused = app
        .refused(
            &ada.token,
            &format!("GET {path}?status=cancelled"),
            None,
            422,
            "status",
        )
        .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("must be one of pending, success, failed, retrying"),
        "the allowed values are named: {detail}"
    );

    let started = now - Duration::minutes(119);
    for (attempt, status, error_class) in [(2, None, Some("timeout")), (1, Some(503), None)] {
        sqlx::query(
            "insert into webhooks.attempts (id, delivery_id, attempt, started_at, duration_ms,
                    response_status, response_body, error_class, error)
             values ($1, $2, $3, $4, 120, $5, $6, $7, $8)",
        )
        .bind(Uuid::now_v7())
        .bind(old)
        .bind(attempt)
        .bind(started + Duration::minutes(i64::from(attempt)))
        .bind(status)
        .bind(status.map(|_| "busy"))
        .bind(error_class)
        .bind(error_class.map(|_| "timed out after 2s"))
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let detail = app
        .fetch(&ada.token, &format!("/webhooks/deliveries/{old}"))
        .await;
    assert_eq!(
        detail["id"],
        old.to_string(),
        "the static route wins over /webhooks/{{id}}"
    );
    assert_eq!(detail["webhook_id"], endpoint["id"]);
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["attempt_count"], 4);
    assert_eq!(detail["payload"], json!({"n": 1}));
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["attempt"], 1, "oldest first");
    assert_eq!(attempts[0]["response_status"], 503);
    assert_eq!(attempts[0]["response_body"], "busy");
    assert_eq!(attempts[0]["duration_ms"], 120);
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[1]["error_class"], "timeout");
    assert_eq!(attempts[1]["error"], "timed out after 2s");
    assert_eq!(attempts[1]["response_status"], Value::Null);

    let request = format!("GET /webhooks/deliveries/{}", Uuid::new_v4());
    app.refused(&ada.token, &request, None, 404, "delivery")
        .await;
    app.refused(&ada.token, "GET /webhooks/deliveries/nope", None, 404, "")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_finished_delivery_can_be_retried_but_an_unfinished_one_cannot(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let endpoint = webhook(&app, &ada.token, hook("Flaky")).await;
    let path = format!("/webhooks/{}/test", endpoint["id"].as_str().unwrap());
    let test = app.create(&ada.token, &path, &json!({})).await;
    let id: Uuid = test["id"].as_str().unwrap().parse().unwrap();
    let retry = format!("/webhooks/deliveries/{id}/retry");
    let request = format!("POST {retry}");
    app.refused(&ada.token, &request, Some(&json!({})), 409, "pending")
        .await;

    sqlx::query(
        "update webhooks.deliveries
         set status = 'failed', outcome = 'exhausted', attempt_count = 4,
             next_attempt_at = now() + interval '1 day', lease_until = now(),
             leased_by = gen_random_uuid()
         where id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let requeued = app.act(&ada.token, &retry, &json!({})).await;
    assert_eq!(requeued["status"], "pending");
    assert_eq!(requeued["outcome"], Value::Null);
    assert_eq!(requeued["attempt_count"], 4, "the attempt count is kept");
    assert_eq!(requeued["event_id"], test["event_id"], "same webhook-id");
    let (due, leased): (bool, bool) = sqlx::query_as(
        "select next_attempt_at <= now(), lease_until is not null or leased_by is not null
         from webhooks.deliveries where id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(due && !leased, "due now and unleased");
    let request = format!("POST {retry}");
    app.refused(&ada.token, &request, Some(&json!({})), 409, "pending")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn recovery_requeues_the_failed_deliveries_since_an_instant(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let endpoint = webhook(&app, &ada.token, hook("Outage")).await;
    let other = webhook(&app, &ada.token, hook("Fine")).await;
    let since = Utc::now() - Duration::hours(1);
    let before = delivery(&app, &endpoint, "failed", since - Duration::seconds(1)).await;
    let mut after = Vec::new();
    for minutes in [0, 10, 30] {
        after.push(
            delivery(
                &app,
                &endpoint,
                "failed",
                since + Duration::minutes(minutes),
            )
            .await,
        );
    }
    let succeeded = delivery(&app, &endpoint, "success", since + Duration::minutes(5)).await;
    let elsewhere = delivery(&app, &other, "failed", since + Duration::minutes(5)).await;

    let body = json!({"since": since.to_rfc3339()});
    let recovered = app
        .act(
            &ada.token,
            &format!("/webhooks/{}/recover", endpoint["id"].as_str().unwrap()),
            &body,
        )
        .await;
    assert_eq!(recovered, json!({"recovered": 3}));
    for id in after {
        assert_eq!(status_of(&app, id).await, "pending");
    }
    assert_eq!(
        status_of(&app, before).await,
        "failed",
        "older ones stay failed"
    );
    assert_eq!(status_of(&app, succeeded).await, "success");
    assert_eq!(
        status_of(&app, elsewhere).await,
        "failed",
        "other endpoints are untouched"
    );
    app.refused(
        &ada.token,
        &format!(
            "POST /webhooks/{}/recover",
            endpoint["id"].as_str().unwrap()
        ),
        Some(&json!({"since": "yesterday"})),
        422,
        "",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn queueing_a_test_delivery_wakes_the_senders_at_commit(pool: PgPool) {
    let app = api(pool.clone()).await;
    let ada = app.signup("ada@example.com").await;
    let endpoint = webhook(&app, &ada.token, hook("Awake")).await;
    let mut listener = senders_listener(&pool).await;
    let body = json!({});
    app.create(
        &ada.token,
        &format!("/webhooks/{}/test", endpoint["id"].as_str().unwrap()),
        &body,
    )
    .await;
    assert_senders_woken(&mut listener).await;
}

#[test]
fn the_openapi_document_describes_every_webhooks_route() {
    let doc = temponest_webhooks::openapi();
    let paths: Vec<&String> = doc.paths.paths.keys().collect();
    for path in [
        "/webhooks/",
        "/webhooks/{id}",
        "/webhooks/{id}/rotate-secret",
        "/webhooks/{id}/test",
        "/webhooks/{id}/deliveries",
        "/webhooks/{id}/recover",
        "/webhooks/deliveries/{id}",
        "/webhooks/deliveries/{id}/retry",
        "/webhooks/events",
        "/events",
    ] {
        assert!(
            paths.iter().any(|p| p.as_str() == path),
            "{path} in {paths:?}"
        );
    }
}
