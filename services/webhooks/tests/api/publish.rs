//! `POST /events`: an application's event is recorded already dispatched — its deliveries
//! exist when the `202` is sent, with no dispatcher round in between — and handed straight to
//! the sender of the process that published it.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{config, spawn, spawn_with};
use crate::receiver::{
    Receiver, assert_senders_woken, deliveries, endpoint, senders_listener, settled,
};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_application_event_has_its_deliveries_when_its_publish_is_acknowledged(pool: PgPool) {
    // No engine: nothing but the publish itself can create the deliveries.
    let app = spawn_with(pool.clone(), config(), false).await;
    let ada = app.signup("ada@example.com").await;
    let tenant: Uuid = ada.tenant_id.parse().unwrap();
    let url = "http://127.0.0.1:9/hook";
    let (paid, _) = endpoint(&pool, tenant, url, &["order.paid"], 3).await;
    let (any, _) = endpoint(&pool, tenant, url, &["*"], 3).await;
    let (refunded, _) = endpoint(&pool, tenant, url, &["order.refunded"], 3).await;
    let mut listener = senders_listener(&pool).await;

    let body =
        json!({"event_type": "order.paid", "payload": {"order": 7}, "idempotency_key": "o-7"});
    let event = app.call(&ada.token, "POST /events", Some(&body), 202).await;
    for endpoint_id in [paid, any] {
        let rows = deliveries(&pool, endpoint_id).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            rows[0].event_id.to_string(),
            event["event_id"].as_str().unwrap()
        );
        assert_eq!(rows[0].status, "pending");
    }
    assert!(deliveries(&pool, refunded).await.is_empty());
    // Nothing in this process can take them: the senders elsewhere are woken at commit.
    assert_senders_woken(&mut listener).await;

    // A repeat of the key names the same event and creates nothing more.
    let again = app.call(&ada.token, "POST /events", Some(&body), 202).await;
    assert_eq!(again["event_id"], event["event_id"]);
    assert_eq!(deliveries(&pool, paid).await.len(), 1);

    // A type only `*` subscribes to reaches only that endpoint.
    let body = json!({"event_type": "order.shipped", "payload": {}});
    app.call(&ada.token, "POST /events", Some(&body), 202).await;
    assert_eq!(deliveries(&pool, any).await.len(), 2);
    assert_eq!(deliveries(&pool, paid).await.len(), 1);
    assert!(deliveries(&pool, refunded).await.is_empty());
    let pending: i64 =
        sqlx::query_scalar("select count(*) from platform.outbox where processed_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(pending, 0, "every event was recorded processed");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_application_event_published_here_is_delivered_by_this_process(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.signup("ada@example.com").await;
    let tenant: Uuid = ada.tenant_id.parse().unwrap();
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["order.paid"], 3).await;
    let mut listener = senders_listener(&pool).await;

    let body = json!({"event_type": "order.paid", "payload": {"order": 8}});
    let event = app.call(&ada.token, "POST /events", Some(&body), 202).await;
    let rows = settled(&pool, id, 1).await;
    // Handed over in memory, not left for a claim: the publish woke no sender. Notifications
    // arrive in commit order, so a marker sent now is the first one unless it did.
    sqlx::query("select pg_notify($1, 'marker')")
        .bind(temponest_webhooks::db::queue::DELIVERIES_CHANNEL)
        .execute(&pool)
        .await
        .unwrap();
    let first = listener.recv().await.unwrap();
    assert_eq!(
        first.payload(),
        "marker",
        "the publish left its delivery to a claim"
    );
    assert_eq!(rows[0].status, "success");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("webhook-id"),
        event["event_id"].as_str().unwrap()
    );
    assert_eq!(requests[0].json()["data"], json!({"order": 8}));
}
