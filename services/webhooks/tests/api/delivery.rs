//! Delivery end to end: outbox events reach subscribed receivers signed (verified
//! independently), failures are retried with backoff, `Retry-After` is honoured, 410 and
//! persistent failure disable the endpoint, redirects are not followed, rotated secrets sign
//! side by side, and agents' events flow through the real agents API.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, eventually, spawn};
use crate::receiver::{self, Receiver, Reply, deliveries, endpoint, publish, settled, verify};

async fn attempt_statuses(pool: &PgPool, delivery: Uuid) -> Vec<Option<i32>> {
    sqlx::query_scalar(
        "select response_status from webhooks.attempts where delivery_id = $1 order by attempt",
    )
    .bind(delivery)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The app with its engine running, a new tenant and a receiver for its endpoint.
async fn spawn_with_receiver(pool: &PgPool) -> (TestApp, Uuid, Receiver) {
    let app = spawn(pool.clone()).await;
    (app, Uuid::new_v4(), Receiver::start().await)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn events_reach_subscribers_signed_and_nobody_else(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
    let (subscribed, other_type, wildcard, foreign) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let (sub_id, sub_secret) = endpoint(&pool, tenant, &subscribed.url, &["order.paid"], 3).await;
    let (other_id, _) = endpoint(&pool, tenant, &other_type.url, &["order.refunded"], 3).await;
    let (wild_id, wild_secret) = endpoint(&pool, tenant, &wildcard.url, &["*"], 3).await;
    let (foreign_id, _) =
        endpoint(&pool, other_tenant, &foreign.url, &["order.paid", "*"], 3).await;

    let payload = json!({"order": 42, "items": ["a", "b"]});
    let event_id = publish(&pool, tenant, "order.paid", payload.clone()).await;

    for (receiver, id, secret) in [
        (&subscribed, sub_id, &sub_secret),
        (&wildcard, wild_id, &wild_secret),
    ] {
        let rows = settled(&pool, id, 1).await;
        assert_eq!(rows[0].status, "success");
        assert_eq!(rows[0].outcome.as_deref(), Some("delivered"));
        assert_eq!(rows[0].event_id, event_id);
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        verify(secret, request).expect("signature verifies");
        assert!(
            verify(&receiver::secret().0, request).is_err(),
            "a wrong secret must fail"
        );
        assert_eq!(request.header("webhook-id"), event_id.to_string());
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("user-agent"), "TempoNest-Webhooks/1");
        assert_eq!(request.header("x-static"), "yes");
        let body = request.json();
        assert_eq!(body["type"], "order.paid");
        assert_eq!(body["data"], payload);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    // The fan-out is one transaction: nothing else was or will be created for this event.
    assert!(deliveries(&pool, other_id).await.is_empty());
    assert!(deliveries(&pool, foreign_id).await.is_empty());
    assert_eq!(other_type.count() + foreign.count(), 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn failures_are_retried_with_the_same_webhook_id(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    receiver.script([Reply::Status(500), Reply::Status(500)]);
    let (id, secret) = endpoint(&pool, tenant, &receiver.url, &["order.paid"], 3).await;
    let event_id = publish(&pool, tenant, "order.paid", json!({"n": 1})).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "success");
    assert_eq!(rows[0].attempt_count, 3);
    assert_eq!(
        attempt_statuses(&pool, rows[0].id).await,
        vec![Some(500), Some(500), Some(200)]
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.header("webhook-id"), event_id.to_string());
        verify(&secret, request).unwrap();
    }
    let failing: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select failing_since from webhooks.endpoints where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(failing.is_none(), "a success clears failing_since");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn exhausted_retries_fail_the_delivery(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    receiver.otherwise(Reply::Status(500));
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 1).await;
    publish(&pool, tenant, "order.paid", json!({})).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].outcome.as_deref(), Some("exhausted"));
    assert_eq!(rows[0].error_class.as_deref(), Some("http_status"));
    assert_eq!(rows[0].attempt_count, 2);
    assert_eq!(receiver.count(), 2);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn retry_after_is_honoured(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    receiver.script([Reply::TooMany(30)]);
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 3).await;
    publish(&pool, tenant, "order.paid", json!({})).await;

    assert!(
        eventually(|| async {
            deliveries(&pool, id)
                .await
                .first()
                .is_some_and(|d| d.attempt_count == 1)
        })
        .await
    );
    let row = &deliveries(&pool, id).await[0];
    assert_eq!(row.status, "retrying");
    assert_eq!(row.response_status, Some(429));
    let honoured: bool = sqlx::query_scalar(
        "select d.next_attempt_at >= a.started_at + interval '30 seconds'
         from webhooks.deliveries d join webhooks.attempts a on a.delivery_id = d.id
         where d.id = $1",
    )
    .bind(row.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        honoured,
        "next attempt {:?} ignores Retry-After",
        row.next_attempt_at
    );
    assert_eq!(receiver.count(), 1);
}

async fn endpoint_state(pool: &PgPool, id: Uuid) -> (bool, Option<String>) {
    sqlx::query_as("select is_active, disabled_reason from webhooks.endpoints where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn disabled_events(pool: &PgPool, tenant: Uuid) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from platform.outbox
         where tenant_id = $1 and event_type = 'webhook.endpoint.disabled'",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn gone_disables_the_endpoint_and_records_an_event(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    receiver.script([Reply::Status(410)]);
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["order.paid"], 3).await;
    publish(&pool, tenant, "order.paid", json!({})).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].outcome.as_deref(), Some("disabled"));
    assert_eq!(
        endpoint_state(&pool, id).await,
        (false, Some("gone (410)".into()))
    );
    let events = disabled_events(&pool, tenant).await;
    assert_eq!(
        events,
        vec![json!({"webhook_id": id, "reason": "gone (410)"})]
    );

    // A disabled endpoint gets no new deliveries.
    publish(&pool, tenant, "order.paid", json!({})).await;
    let marker = Receiver::start().await;
    let (marker_id, _) = endpoint(&pool, tenant, &marker.url, &["test.marker"], 0).await;
    publish(&pool, tenant, "test.marker", json!({})).await;
    settled(&pool, marker_id, 1).await;
    assert_eq!(deliveries(&pool, id).await.len(), 1);
    assert_eq!(receiver.count(), 1);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn persistent_failure_disables_the_endpoint(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    receiver.otherwise(Reply::Status(503));
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 5).await;
    sqlx::query(
        "update webhooks.endpoints set failing_since = now() - interval '6 days' where id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    publish(&pool, tenant, "order.paid", json!({})).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].outcome.as_deref(), Some("disabled"));
    assert_eq!(rows[0].attempt_count, 1);
    let (active, reason) = endpoint_state(&pool, id).await;
    assert!(!active);
    assert!(
        reason.as_deref().unwrap().starts_with("failing since "),
        "{reason:?}"
    );
    let events = disabled_events(&pool, tenant).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["webhook_id"], json!(id));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn redirects_are_failures_and_not_followed(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    let tenant = Uuid::new_v4();
    let (receiver, target) = (Receiver::start().await, Receiver::start().await);
    receiver.otherwise(Reply::Redirect(target.url.clone()));
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 0).await;
    publish(&pool, tenant, "order.paid", json!({})).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].response_status, Some(302));
    assert_eq!(rows[0].error_class.as_deref(), Some("http_status"));
    assert_eq!(receiver.count(), 1);
    assert_eq!(target.count(), 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn rotated_secrets_sign_side_by_side(pool: PgPool) {
    let (_app, tenant, receiver) = spawn_with_receiver(&pool).await;
    let (id, old) = endpoint(&pool, tenant, &receiver.url, &["*"], 0).await;
    let (new, new_bytes) = receiver::secret();
    let mut tx = pool.begin().await.unwrap();
    let grace = chrono::Utc::now() + chrono::Duration::hours(1);
    temponest_webhooks::db::secrets::rotate(&mut tx, id, &new_bytes, false, grace)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    publish(&pool, tenant, "order.paid", json!({})).await;

    settled(&pool, id, 1).await;
    let request = &receiver.requests()[0];
    assert_eq!(request.header("webhook-signature").split(' ').count(), 2);
    verify(&old, request).expect("the previous secret still verifies");
    verify(&new, request).expect("the new secret verifies");
    assert!(verify(&receiver::secret().0, request).is_err());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn agent_events_flow_through_the_agents_api(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.signup("ada@example.com").await;
    let tenant: Uuid = ada.tenant_id.parse().unwrap();
    let receiver = Receiver::start().await;
    let events = ["agent.created", "agent.execution.completed"];
    let (id, secret) = endpoint(&pool, tenant, &receiver.url, &events, 3).await;

    let agent = app
        .create(
            &ada.token,
            "/agents/",
            &json!({"name": "echoer", "model": "echo-1", "provider": "echo"}),
        )
        .await;
    let run = app.run(&ada.token, &agent, "hi").await;

    let rows = settled(&pool, id, 2).await;
    assert!(rows.iter().all(|d| d.status == "success"), "{rows:#?}");
    let requests = receiver.requests();
    let mut seen = Vec::new();
    for request in &requests {
        verify(&secret, request).unwrap();
        let body = request.json();
        let event_id: Uuid = request.header("webhook-id").parse().unwrap();
        let stored: Value =
            sqlx::query_scalar("select payload from platform.outbox where event_id = $1")
                .bind(event_id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(body["data"], stored);
        seen.push(body["type"].as_str().unwrap().to_owned());
        match body["type"].as_str().unwrap() {
            "agent.created" => assert_eq!(body["data"]["id"], agent["id"]),
            _ => assert_eq!(body["data"]["id"], run["id"], "{body} vs {run}"),
        }
    }
    seen.sort();
    assert_eq!(seen, events);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deliveries_of_a_disabled_endpoint_are_failed_without_sending(pool: PgPool) {
    let tenant = Uuid::new_v4();
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 3).await;
    // Fanned out while active (no engine yet), disabled before the sender gets to it.
    publish(&pool, tenant, "order.paid", json!({})).await;
    temponest_webhooks::domain::dispatcher::round(&pool, 10)
        .await
        .unwrap();
    sqlx::query("update webhooks.endpoints set is_active = false where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let _app = spawn(pool.clone()).await;

    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].outcome.as_deref(), Some("disabled"));
    assert_eq!(rows[0].attempt_count, 0);
    assert_eq!(receiver.count(), 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn connection_failures_are_classified(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    let tenant = Uuid::new_v4();
    // TLS spoken to a plain-HTTP receiver: the handshake fails.
    let plain = Receiver::start().await;
    let https = plain.url.replacen("http://", "https://", 1);
    let (tls_id, _) = endpoint(&pool, tenant, &https, &["order.paid"], 0).await;
    // Nothing listens on a port that was just freed.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let (connect_id, _) = endpoint(&pool, tenant, &closed, &["order.paid"], 0).await;
    publish(&pool, tenant, "order.paid", json!({})).await;

    let tls = settled(&pool, tls_id, 1).await;
    assert_eq!(tls[0].status, "failed");
    let error: Option<String> =
        sqlx::query_scalar("select error from webhooks.deliveries where id = $1")
            .bind(tls[0].id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tls[0].error_class.as_deref(), Some("tls"), "{error:?}");
    assert_eq!(plain.count(), 0, "no request reached the plain receiver");
    let connect = settled(&pool, connect_id, 1).await;
    assert_eq!(
        connect[0].error_class.as_deref(),
        Some("connect"),
        "{connect:#?}"
    );
}
