//! Aggregates of the dashboard (`GET /dashboard/metrics`) over one tenant's period of
//! `agents.executions` and `scheduler.executions`, each a range of a `(tenant_id, …,
//! created_at)` index (`executions_tenant_status_created_idx`, `executions_tenant_created_idx`
//! in both schemas; checked with EXPLAIN). The spend per hour and by agent come from
//! [`super::cost_reports`].
//!
//! The scheduled-run figures read the scheduler's table: both services share one database,
//! the read is tenant-scoped and read-only, and copying run outcomes into the agents schema
//! would be a second source of truth for the same fact.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::cost_reports::Period;
use crate::domain::dashboard::{Durations, ScheduledRuns};
use crate::domain::execution::ExecutionStatus;

/// How many executions of a period are in each status (statuses without any are absent).
pub async fn status_counts(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
) -> sqlx::Result<Vec<(ExecutionStatus, i64)>> {
    let rows = sqlx::query!(
        r#"select status as "status: ExecutionStatus", count(*) as "count!"
         from agents.executions
         where tenant_id = $1 and created_at >= $2 and created_at < $3
         group by status"#,
        tenant_id,
        period.start,
        period.end
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.count)).collect())
}

/// Average and 95th percentile (continuous) of the run time, from start to completion, of
/// the period's completed executions.
pub async fn completed_durations(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
) -> sqlx::Result<Durations> {
    let row = sqlx::query!(
        r#"select avg(ms) as avg_ms, percentile_cont(0.95) within group (order by ms) as p95_ms
         from (select extract(epoch from completed_at - started_at)::float8 * 1000 as ms
               from agents.executions
               where tenant_id = $1 and status = 'completed'
                 and created_at >= $2 and created_at < $3
                 and started_at is not null and completed_at is not null) as completed"#,
        tenant_id,
        period.start,
        period.end
    )
    .fetch_one(pool)
    .await?;
    Ok(Durations {
        avg_ms: row.avg_ms,
        p95_ms: row.p95_ms,
    })
}

/// The `top_n` agents of a period by failed executions, most first (ties by agent id).
pub async fn top_failing_agents(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
    top_n: i64,
) -> sqlx::Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"select agent_id, count(*) as "failures!"
         from agents.executions
         where tenant_id = $1 and status = 'failed' and created_at >= $2 and created_at < $3
         group by agent_id
         order by 2 desc, 1
         limit $4"#,
        tenant_id,
        period.start,
        period.end,
        top_n
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.agent_id, r.failures)).collect())
}

/// The runs of the tenant's schedules (scheduled or triggered by hand) created in the
/// period that have finished, and how many of them completed.
pub async fn scheduled_runs(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
) -> sqlx::Result<ScheduledRuns> {
    let row = sqlx::query!(
        r#"select count(*) filter (where status in ('completed', 'failed')) as "finished!",
                count(*) filter (where status = 'completed') as "succeeded!"
         from scheduler.executions
         where tenant_id = $1 and created_at >= $2 and created_at < $3"#,
        tenant_id,
        period.start,
        period.end
    )
    .fetch_one(pool)
    .await?;
    Ok(ScheduledRuns {
        finished: row.finished,
        succeeded: row.succeeded,
    })
}
