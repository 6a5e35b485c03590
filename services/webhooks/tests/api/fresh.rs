//! Claims on a young table: a fan-out burst on a database that was never analysed (autovacuum
//! off, or behind the burst) is claimed — outbox events by the dispatcher, deliveries by the
//! sender — with the plan it gets once statistics exist: index probes of the partial queue
//! indexes, bounded by what the claim takes, never a scan or sort of the whole backlog.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use temponest_test_client::fixtures::fresh_and_analysed_plans;
use temponest_test_client::plan::{self, Plan};
use temponest_webhooks::db::queue;
use uuid::Uuid;

use crate::receiver::endpoint;

/// The statements `queue::claim` and `queue::dispatch` run, as they run them.
const CLAIM: &str = include_str!("../../src/db/claim.sql");
const DISPATCH: &str = queue::DISPATCH_SQL;

const ENDPOINTS: usize = 10;
const EVENTS: usize = 2_000;
/// A claim's batch; the burst is `EVENTS` × `ENDPOINTS` = 20,000 deliveries.
const LIMIT: i64 = 100;
/// Rows any operator of one claim may visit: the batch from each endpoint, and a little.
const VISIT_BOUND: f64 = ((ENDPOINTS + 2) as i64 * LIMIT) as f64;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_claim_on_a_never_analysed_burst_reads_only_what_it_takes(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    plan::without_autovacuum(&mut conn, "webhooks.deliveries").await;
    burst(&pool, &mut conn).await;
    let plans = fresh_and_analysed_plans(&mut conn, "webhooks.deliveries", plan).await;
    for (name, plan) in &plans {
        assert_eq!(plan.seq_scans(), Vec::<String>::new(), "{name}");
        let (busiest, visited) = plan.busiest();
        assert!(
            visited <= VISIT_BOUND,
            "{name}: {busiest} visited {visited} rows (bound {VISIT_BOUND})"
        );
        assert_eq!(
            plan.indexes(),
            BTreeSet::from([
                "deliveries_endpoint_due_idx".into(),
                "deliveries_pkey".into()
            ]),
            "{name}: only the queue index and the primary key"
        );
        assert_eq!(plan.rows(), LIMIT as f64, "{name}: a full batch is claimed");
    }
    let (fresh, analysed) = plans.split_at(2);
    for ((_, fresh), (_, analysed)) in fresh.iter().zip(analysed) {
        assert_eq!(fresh.shape(), analysed.shape(), "statistics change nothing");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_dispatch_round_on_a_never_analysed_outbox_reads_only_its_batch(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    plan::without_autovacuum(&mut conn, "platform.outbox").await;
    let tenant = Uuid::new_v4();
    endpoint(&pool, tenant, "http://127.0.0.1:9/hook", &["order.paid"], 3).await;
    let events: Vec<(Uuid, &str, Value)> = (0..EVENTS * 5)
        .map(|n| (tenant, "order.paid", json!({"n": n})))
        .collect();
    temponest_outbox::publish_many(&mut conn, &events)
        .await
        .unwrap();
    // Some rounds done: processed events ahead of the pending ones, as mid-burst.
    for _ in 0..5 {
        queue::dispatch(&mut conn, LIMIT, None).await.unwrap();
    }

    plan::assert_statistics_proof(
        &mut conn,
        "platform.outbox",
        (4 * LIMIT) as f64,
        DISPATCH,
        |q| {
            q.bind(LIMIT)
                .bind(None::<Uuid>)
                .bind(0_i64)
                .bind(0.0_f64)
                .bind("unused_channel")
                .bind(0_i64)
                .bind("off")
        },
    )
    .await;
}

/// `EVENTS` events fanned out to `ENDPOINTS` endpoints by the dispatcher, none leased (as when
/// the sender's memory is full); the first tenth already delivered, so the queue index holds
/// dead entries too.
async fn burst(pool: &PgPool, conn: &mut PgConnection) {
    let tenant = Uuid::new_v4();
    for _ in 0..ENDPOINTS {
        endpoint(pool, tenant, "http://127.0.0.1:9/hook", &["order.paid"], 3).await;
    }
    let events: Vec<(Uuid, &str, Value)> = (0..EVENTS)
        .map(|n| (tenant, "order.paid", json!({"n": n})))
        .collect();
    temponest_outbox::publish_many(conn, &events).await.unwrap();
    while queue::dispatch(conn, 500, None).await.unwrap().events > 0 {}
    sqlx::query(
        "update webhooks.deliveries set status = 'success', delivered_at = now()
         where id in (select id from webhooks.deliveries order by created_at, id limit $1)",
    )
    .bind((EVENTS * ENDPOINTS / 10) as i64)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// One claim, executed under `EXPLAIN (ANALYZE, FORMAT JSON)` and rolled back, with a custom
/// or a generic plan (what a prepared statement may switch to after five executions).
async fn plan(conn: &mut PgConnection, generic: bool) -> Plan {
    plan::explain(conn, generic, CLAIM, |q| {
        q.bind(30.0_f64)
            .bind(Uuid::new_v4())
            .bind(LIMIT)
            .bind(Vec::<Uuid>::new())
            .bind(Vec::<Uuid>::new())
            .bind(LIMIT)
            .bind(i64::MAX)
            .bind(Uuid::new_v4())
    })
    .await
}
