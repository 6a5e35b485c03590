//! Retention: delivered deliveries (with their attempts) and processed outbox events go after
//! 30 days, failed deliveries after 90; unfinished deliveries and pending events stay however
//! old they are; every purged row is counted.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use temponest_webhooks::domain::retention;
use uuid::Uuid;

use temponest_test_client::fixtures::count;

use crate::helpers::{config, spawn_with};
use crate::receiver::endpoint;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deliveries_and_outbox_events_past_their_retention_are_purged_and_counted(pool: PgPool) {
    temponest_telemetry::metrics_handle();
    // No engine: this test runs the purge itself, once.
    let app = spawn_with(pool.clone(), config(), false).await;
    let now = Utc::now();
    let days = |n: i64| now - Duration::days(n);
    let tenant = Uuid::new_v4();
    let (endpoint_id, _) = endpoint(&pool, tenant, "http://127.0.0.1:9/", &["a.b"], 3).await;

    let mut ids = Vec::new();
    for (status, age) in [
        ("success", 31), // purged
        ("success", 29), // kept
        ("failed", 91),  // purged
        ("failed", 31),  // kept: failed ones are kept 90 days
        ("pending", 100),
        ("retrying", 100),
    ] {
        ids.push(delivery(&pool, tenant, endpoint_id, status, days(age)).await);
    }
    sqlx::query(
        "insert into webhooks.attempts (id, delivery_id, attempt, started_at, duration_ms,
             response_status)
         select gen_random_uuid(), id, 1, created_at, 5, 200 from webhooks.deliveries",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut events = Vec::new();
    for processed in [Some(days(31)), Some(days(1)), None] {
        events.push(outbox_event(&pool, tenant, days(100), processed).await);
    }

    let more = retention::run_once(&app.state, &config().webhooks, now)
        .await
        .unwrap();
    assert!(!more);

    let left: Vec<Uuid> =
        sqlx::query_scalar("select id from webhooks.deliveries order by created_at desc")
            .fetch_all(&pool)
            .await
            .unwrap();
    let kept = [ids[1], ids[3], ids[4], ids[5]];
    assert_eq!(sorted(left), sorted(kept.to_vec()));
    let attempts_of_kept: Vec<Uuid> =
        sqlx::query_scalar("select delivery_id from webhooks.attempts")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        sorted(attempts_of_kept),
        sorted(kept.to_vec()),
        "purged deliveries take their attempts with them"
    );
    let outbox: Vec<Uuid> = sqlx::query_scalar("select event_id from platform.outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        sorted(outbox),
        sorted(vec![events[1], events[2]]),
        "recent and pending events stay"
    );

    let metrics = app.metrics().await;
    for needle in [
        "temponest_retention_purged_rows_total{table=\"webhooks.deliveries\"} 2",
        "temponest_retention_purged_rows_total{table=\"platform.outbox\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} not in:\n{metrics}");
    }

    // A second run finds nothing more.
    retention::run_once(&app.state, &config().webhooks, now)
        .await
        .unwrap();
    let count = count(&pool, "select count(*) from webhooks.deliveries").await;
    assert_eq!(count, 4);
}

async fn delivery(
    pool: &PgPool,
    tenant: Uuid,
    endpoint_id: Uuid,
    status: &str,
    created_at: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into webhooks.deliveries (id, tenant_id, endpoint_id, event_id, event_type,
             payload, event_created_at, status, created_at, next_attempt_at)
         values ($1, $2, $3, gen_random_uuid(), 'a.b', '{}', $4, $5, $4, $4)",
    )
    .bind(id)
    .bind(tenant)
    .bind(endpoint_id)
    .bind(created_at)
    .bind(status)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn outbox_event(
    pool: &PgPool,
    tenant: Uuid,
    created_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
) -> Uuid {
    let event_id = Uuid::new_v4();
    sqlx::query(
        "insert into platform.outbox (event_id, tenant_id, event_type, payload, created_at,
             processed_at)
         values ($1, $2, 'a.b', $3, $4, $5)",
    )
    .bind(event_id)
    .bind(tenant)
    .bind(json!({}))
    .bind(created_at)
    .bind(processed_at)
    .execute(pool)
    .await
    .unwrap();
    event_id
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}
