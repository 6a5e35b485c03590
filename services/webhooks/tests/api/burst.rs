//! A burst: hundreds of events fanned out to several endpoints at once go through the batched
//! paths (deliveries handed from the dispatcher to the sender, results recorded many per
//! transaction) and every delivery ends exactly as if it had been recorded alone.

use std::collections::HashSet;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use temponest_test_client::fixtures::count;

use crate::helpers::spawn;
use crate::receiver::{Receiver, Reply, endpoint, settled, verify};

const EVENTS: usize = 200;
/// The flaky receiver fails this many requests first.
const FLAKY_FAILURES: usize = 40;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_burst_to_several_endpoints_is_recorded_attempt_by_attempt(pool: PgPool) {
    // The process-wide recorder, installed before the engine starts (each test is its own
    // process), so that the engine's first gauge refresh is recorded.
    temponest_telemetry::metrics_handle();
    let app = spawn(pool.clone()).await;
    let tenant = Uuid::new_v4();
    let (healthy, flaky, gone) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    flaky.script(std::iter::repeat_n(Reply::Status(500), FLAKY_FAILURES));
    gone.script([Reply::Status(410)]);
    let (healthy_id, healthy_secret) =
        endpoint(&pool, tenant, &healthy.url, &["order.paid"], 3).await;
    let (flaky_id, _) = endpoint(&pool, tenant, &flaky.url, &["order.paid"], 3).await;
    let (gone_id, _) = endpoint(&pool, tenant, &gone.url, &["order.paid"], 3).await;

    let events: Vec<(Uuid, &str, serde_json::Value)> = (0..EVENTS)
        .map(|n| (tenant, "order.paid", json!({"n": n})))
        .collect();
    let mut tx = app.pool.begin().await.unwrap();
    let published: HashSet<Uuid> = temponest_outbox::publish_many(&mut tx, &events)
        .await
        .unwrap()
        .into_iter()
        .collect();
    tx.commit().await.unwrap();

    // Healthy: each event once, signed, one attempt each.
    let rows = settled(&pool, healthy_id, EVENTS).await;
    assert!(
        rows.iter()
            .all(|d| d.status == "success" && d.attempt_count == 1)
    );
    let requests = healthy.requests();
    assert_eq!(requests.len(), EVENTS, "no event is sent twice");
    let ids: HashSet<Uuid> = requests
        .iter()
        .map(|r| r.header("webhook-id").parse().unwrap())
        .collect();
    assert_eq!(ids, published);
    for request in &requests {
        verify(&healthy_secret, request).expect("signature verifies");
    }

    // Flaky: the first failures are retried and every delivery succeeds in the end; each
    // retried delivery has its failed attempt and its successful one, in order.
    let rows = settled(&pool, flaky_id, EVENTS).await;
    assert!(rows.iter().all(|d| d.status == "success"), "{rows:#?}");
    let retried: Vec<_> = rows.iter().filter(|d| d.attempt_count == 2).collect();
    assert_eq!(retried.len(), FLAKY_FAILURES);
    for d in &retried {
        let statuses: Vec<Option<i32>> = sqlx::query_scalar(
            "select response_status from webhooks.attempts where delivery_id = $1 order by attempt",
        )
        .bind(d.id)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(statuses, [Some(500), Some(200)]);
    }
    assert_eq!(flaky.count(), EVENTS + FLAKY_FAILURES);

    // Gone: disabled once, with the reason and one event; what was queued for it is failed
    // without being sent; nothing is left unfinished.
    let rows = settled(&pool, gone_id, EVENTS).await;
    let disabled = rows
        .iter()
        .filter(|d| d.outcome.as_deref() == Some("disabled"))
        .count();
    assert!(
        gone.count() < EVENTS / 2 && disabled > EVENTS / 2,
        "{} requests after 410, {disabled} deliveries failed as disabled",
        gone.count()
    );
    let (active, reason): (bool, Option<String>) =
        sqlx::query_as("select is_active, disabled_reason from webhooks.endpoints where id = $1")
            .bind(gone_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!active);
    assert_eq!(reason.as_deref(), Some("gone (410)"));
    let disabled_events = count(
        &pool,
        "select count(*) from platform.outbox where event_type = 'webhook.endpoint.disabled'",
    )
    .await;
    assert_eq!(disabled_events, 1);

    // Every attempt row belongs to an attempt counted on its delivery, and no lease is left.
    let (attempts, counted, leased): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from webhooks.attempts),
                (select coalesce(sum(attempt_count), 0) from webhooks.deliveries),
                (select count(*) from webhooks.deliveries where leased_by is not null)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(attempts, counted);
    assert_eq!(leased, 0);

    // Exported: outcomes as recorded, attempt latencies, events dispatched, queue gauges.
    // (Counters move right after each batch commits: wait until the last one has.)
    let successes = count(
        &pool,
        "select count(*) from webhooks.deliveries where status = 'success'",
    )
    .await;
    let needle = format!("webhook_deliveries_total{{outcome=\"success\"}} {successes}");
    assert!(
        crate::helpers::eventually(|| async { app.metrics().await.contains(&needle) }).await,
        "{needle} not in:\n{}",
        app.metrics().await
    );
    let metrics = app.metrics().await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} not in:\n{metrics}"))
    };
    assert_eq!(
        value("webhook_deliveries_total{outcome=\"retrying\"}"),
        FLAKY_FAILURES as f64
    );
    assert!(value("webhook_deliveries_total{outcome=\"disabled\"}") >= 1.0);
    // Outcomes that never happened are exported at 0 from the start (alerts see the first one).
    assert_eq!(value("webhook_deliveries_total{outcome=\"blocked\"}"), 0.0);
    assert_eq!(
        value("webhook_attempt_duration_seconds_count"),
        attempts as f64
    );
    assert!(value("webhook_dispatched_events_total") >= EVENTS as f64);
    for gauge in ["webhook_queue_depth", "webhook_oldest_pending_seconds"] {
        assert!(
            metrics.lines().any(|l| l.starts_with(gauge)),
            "{gauge} not in:\n{metrics}"
        );
    }
}
