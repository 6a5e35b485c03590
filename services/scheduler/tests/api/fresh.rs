//! The runner's claim on a young table: a burst of queued executions (on top of a finished
//! history) in a database that was never analysed is claimed with the plan it gets once
//! statistics exist — an ordered range of the pending index that stops at the claim's limit.

use sqlx::{PgConnection, PgPool};
use temponest_test_client::fixtures::fresh_and_analysed_plans;
use temponest_test_client::plan::{self, Plan};
use uuid::Uuid;

/// The statement `executions::claim` runs, as it runs it.
const CLAIM: &str = include_str!("../../src/db/claim_executions.sql");

const SCHEDULES: i64 = 200;
/// Queued per schedule (20,000 in all), and finished ones before them (40,000).
const QUEUED: i64 = 100;
const FINISHED: i64 = 200;
const LIMIT: i64 = 32;

// Test names are unique across the services' `api` test binaries: sqlx names each test's
// database after its path, so two binaries running the same path at once collide.
#[sqlx::test(migrations = "../../migrations")]
async fn a_run_claim_on_a_never_analysed_burst_reads_only_what_it_takes(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    plan::without_autovacuum(&mut conn, "scheduler.executions").await;
    burst(&mut conn).await;
    let plans = fresh_and_analysed_plans(&mut conn, "scheduler.executions", plan).await;
    for (name, plan) in &plans {
        assert_eq!(plan.seq_scans(), Vec::<String>::new(), "{name}");
        // The claim's rows and the running ones its overlap check reads.
        let (busiest, visited) = plan.busiest();
        assert!(
            visited <= (SCHEDULES * 2) as f64,
            "{name}: {busiest} visited {visited} rows"
        );
        assert!(
            plan.indexes().contains("executions_pending_idx"),
            "{name}: {:?}",
            plan.indexes()
        );
        assert_eq!(plan.rows(), LIMIT as f64, "{name}: a full batch is claimed");
    }
    let (fresh, analysed) = plans.split_at(2);
    for ((_, fresh), (_, analysed)) in fresh.iter().zip(analysed) {
        assert_eq!(fresh.shape(), analysed.shape(), "statistics change nothing");
    }
}

/// `SCHEDULES` schedules, each with `FINISHED` completed executions and `QUEUED` pending
/// ones due now; one schedule in four has one running (its pending ones wait, overlap
/// policy `skip`).
async fn burst(conn: &mut PgConnection) {
    let tenant = Uuid::new_v4();
    sqlx::query(
        "insert into scheduler.schedules (id, tenant_id, agent_id, name, schedule_type,
             interval_seconds, anchor, task_config, next_run)
         select gen_random_uuid(), $1, gen_random_uuid(), 'burst ' || g, 'interval', 3600,
                now(), '{}', null
         from generate_series(1, $2) g",
    )
    .bind(tenant)
    .bind(SCHEDULES)
    .execute(&mut *conn)
    .await
    .unwrap();
    for (status, count, age) in [
        ("completed", FINISHED, "1 day"),
        ("pending", QUEUED, "1 minute"),
    ] {
        sqlx::query(
            "insert into scheduler.executions (id, tenant_id, schedule_id, agent_id, trigger,
                 fire_time, status, max_retries, retry_delay_seconds, timeout_seconds,
                 overlap_policy, task_config, run_after, completed_at)
             select gen_random_uuid(), s.tenant_id, s.id, s.agent_id, 'manual',
                    now() - $3::interval + g * interval '1 ms', $1, 3, 60, 300, 'skip', '{}',
                    now() - $3::interval + g * interval '1 ms',
                    case when $1 = 'completed' then now() - $3::interval end
             from scheduler.schedules s, generate_series(1, $2) g",
        )
        .bind(status)
        .bind(count)
        .bind(age)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::query(
        "update scheduler.executions set status = 'running', leased_by = gen_random_uuid(),
             lease_until = now() + interval '1 minute', attempt = 1
         where id in (select distinct on (schedule_id) id from scheduler.executions
                      where status = 'pending' and schedule_id in (
                          select id from scheduler.schedules order by id limit $1)
                      order by schedule_id, run_after)",
    )
    .bind(SCHEDULES / 4)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// One claim, executed under `EXPLAIN (ANALYZE, FORMAT JSON)` and rolled back, with a custom
/// or a generic plan (what a prepared statement may switch to after five executions).
async fn plan(conn: &mut PgConnection, generic: bool) -> Plan {
    let now = chrono::Utc::now();
    temponest_test_client::plan::explain(conn, generic, CLAIM, |query| {
        query
            .bind(Uuid::new_v4())
            .bind(now)
            .bind(now + chrono::Duration::minutes(5))
            .bind(LIMIT)
    })
    .await
}
