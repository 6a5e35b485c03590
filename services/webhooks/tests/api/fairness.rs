//! Fairness: an endpoint that never answers (each attempt runs into the 2 s timeout) holds only
//! its own permits; healthy endpoints of the same and of another tenant are delivered while
//! the hanging endpoint is still in its first attempts.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{eventually, spawn};
use crate::receiver::{Receiver, Reply, endpoint, publish, settled};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_hanging_endpoint_does_not_delay_healthy_ones(pool: PgPool) {
    let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
    let (hanging, healthy, elsewhere) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    hanging.otherwise(Reply::Hang);
    let (hanging_id, _) = endpoint(&pool, tenant, &hanging.url, &["test.slow"], 3).await;
    let (healthy_id, _) = endpoint(&pool, tenant, &healthy.url, &["test.fast"], 3).await;
    let (elsewhere_id, _) = endpoint(&pool, other_tenant, &elsewhere.url, &["test.fast"], 3).await;
    // The hanging endpoint's deliveries are queued first, so they are due first.
    for n in 0..20 {
        publish(&pool, tenant, "test.slow", json!({"n": n})).await;
    }
    for n in 0..5 {
        publish(&pool, tenant, "test.fast", json!({"n": n})).await;
        publish(&pool, other_tenant, "test.fast", json!({"n": n})).await;
    }
    let _app = spawn(pool.clone()).await;

    let same = settled(&pool, healthy_id, 5).await;
    let other = settled(&pool, elsewhere_id, 5).await;
    assert!(same.iter().chain(&other).all(|d| d.status == "success"));
    let last_healthy = same
        .iter()
        .chain(&other)
        .filter_map(|d| d.delivered_at)
        .max()
        .unwrap();

    // The first wave (per-endpoint concurrency 4) of the hanging endpoint's attempts is
    // recorded when it times out; the healthy deliveries finished before any of it could.
    let attempts = |pool: PgPool| async move {
        sqlx::query_as::<_, (chrono::DateTime<chrono::Utc>,)>(
            "select a.started_at from webhooks.attempts a
             join webhooks.deliveries d on d.id = a.delivery_id
             where d.endpoint_id = $1 order by a.started_at",
        )
        .bind(hanging_id)
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert!(eventually(|| async { attempts(pool.clone()).await.len() >= 4 }).await);
    let started = attempts(pool.clone()).await;
    let first_hanging_start = started[0].0;
    assert!(
        last_healthy < first_hanging_start + chrono::Duration::seconds(2),
        "healthy deliveries finished at {last_healthy}, hanging attempts began {first_hanging_start}"
    );
    let before = started.iter().filter(|(at,)| *at < last_healthy).count();
    assert!(
        before <= 4,
        "{before} hanging attempts started before the healthy ones finished"
    );
    assert!(hanging.count() >= 4);
    let timeouts: Vec<Option<String>> = sqlx::query_scalar(
        "select a.error_class from webhooks.attempts a
         join webhooks.deliveries d on d.id = a.delivery_id where d.endpoint_id = $1",
    )
    .bind(hanging_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        timeouts.iter().all(|c| c.as_deref() == Some("timeout")),
        "{timeouts:?}"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_per_endpoint_rate_limit_spaces_attempts(pool: PgPool) {
    let mut config = crate::helpers::config();
    config.webhooks.per_endpoint_rate_per_sec = 5;
    let tenant = Uuid::new_v4();
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&pool, tenant, &receiver.url, &["*"], 3).await;
    for n in 0..5 {
        publish(&pool, tenant, "test.fast", json!({"n": n})).await;
    }
    let _app = crate::helpers::spawn_with(pool.clone(), config, true).await;

    settled(&pool, id, 5).await;
    let started: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "select a.started_at from webhooks.attempts a
         join webhooks.deliveries d on d.id = a.delivery_id
         where d.endpoint_id = $1 order by a.started_at",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(started.len(), 5);
    // 5 per second: the five sends span at least four 200 ms slots (the span, not each gap, is
    // asserted: a gap also contains the per-send secrets lookup, which varies under load).
    let span = started[4] - started[0];
    assert!(span >= chrono::Duration::milliseconds(700), "{started:?}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_burst_to_a_hanging_endpoint_does_not_fill_the_senders_backlog(pool: PgPool) {
    // More events for the hanging endpoint than the sender queues in memory in all
    // (4 batches of 100): its lane holds at most two batches, which count against the backlog
    // only up to twice its concurrency, so new work for others is still taken in.
    let _app = spawn(pool.clone()).await;
    let (hanging, _healthy, healthy_id, other_tenant) = hanging_burst(&pool, 600).await;
    assert!(
        hanging.wait_for(4).await,
        "the hanging endpoint was never tried"
    );
    let published = chrono::Utc::now();
    for n in 0..5 {
        crate::receiver::publish(&pool, other_tenant, "test.fast", json!({"n": n})).await;
    }

    // Delivered while the hanging endpoint's first attempts (2 s timeout) are still open.
    let rows = settled(&pool, healthy_id, 5).await;
    assert!(rows.iter().all(|d| d.status == "success"));
    let last = rows.iter().filter_map(|d| d.delivered_at).max().unwrap();
    assert!(
        last - published < chrono::Duration::milliseconds(1500),
        "healthy deliveries took {} ms",
        (last - published).num_milliseconds()
    );
    let leased: i64 = sqlx::query_scalar(
        "select count(*) from webhooks.deliveries d join webhooks.endpoints e on e.id = d.endpoint_id
         where e.url = $1 and d.leased_by is not null",
    )
    .bind(&hanging.url)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        leased <= 4 + 200,
        "{leased} deliveries of the hanging endpoint are leased (4 running + 2 batches queued at most)"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deliveries_queued_behind_a_busy_endpoints_backlog_are_claimed_soon(pool: PgPool) {
    // Fanned out before any sender runs (nothing handed over): 600 deliveries of a hanging
    // endpoint are due before 5 of a healthy one. Claims skip the busy endpoint; the ones that
    // read only the oldest rows find nothing, and a full read follows shortly.
    let (hanging, _healthy, healthy_id, other_tenant) = hanging_burst(&pool, 600).await;
    for n in 0..5 {
        crate::receiver::publish(&pool, other_tenant, "test.fast", json!({"n": n})).await;
    }
    let (events, created) = temponest_webhooks::domain::dispatcher::round(&pool, 1000)
        .await
        .unwrap();
    assert_eq!((events, created), (605, 605));

    let started = chrono::Utc::now();
    let _app = crate::helpers::spawn(pool.clone()).await;
    let rows = settled(&pool, healthy_id, 5).await;
    assert!(rows.iter().all(|d| d.status == "success"));
    let last = rows.iter().filter_map(|d| d.delivered_at).max().unwrap();
    assert!(
        last - started < chrono::Duration::milliseconds(1500),
        "the healthy endpoint's deliveries took {} ms",
        (last - started).num_milliseconds()
    );
    assert!(hanging.count() >= 1, "the hanging endpoint was tried first");
}

/// A hanging endpoint with `events` of its events published in one transaction, and a healthy
/// endpoint of another tenant with none yet: (hanging, healthy, healthy's id, its tenant).
async fn hanging_burst(pool: &PgPool, events: usize) -> (Receiver, Receiver, Uuid, Uuid) {
    let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
    let (hanging, healthy) = (Receiver::start().await, Receiver::start().await);
    hanging.otherwise(Reply::Hang);
    endpoint(pool, tenant, &hanging.url, &["test.slow"], 3).await;
    let (healthy_id, _) = endpoint(pool, other_tenant, &healthy.url, &["test.fast"], 3).await;
    let burst: Vec<(Uuid, &str, serde_json::Value)> = (0..events)
        .map(|n| (tenant, "test.slow", json!({"n": n})))
        .collect();
    let mut tx = pool.begin().await.unwrap();
    temponest_outbox::publish_many(&mut tx, &burst)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (hanging, healthy, healthy_id, other_tenant)
}
