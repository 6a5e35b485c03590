//! The fire history: fire times that ran (executions triggered by the schedule) and those
//! that did not (`scheduler.skipped_fires`: skipped by the overlap policy, missed in downtime).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::execution::{ExecutionStatus, FireDisposition, SkipReason};

/// A fire time that did not run.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub schedule_id: Uuid,
    pub tenant_id: Uuid,
    pub fire_time: DateTime<Utc>,
    pub reason: SkipReason,
}

/// Records skipped and missed fire times in one statement (a repeat is ignored).
pub async fn insert_skipped(
    conn: &mut PgConnection,
    skipped: &[Skipped],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    let schedules: Vec<Uuid> = skipped.iter().map(|s| s.schedule_id).collect();
    let tenants: Vec<Uuid> = skipped.iter().map(|s| s.tenant_id).collect();
    let fires: Vec<DateTime<Utc>> = skipped.iter().map(|s| s.fire_time).collect();
    let reasons: Vec<String> = skipped
        .iter()
        .map(|s| s.reason.as_str().to_owned())
        .collect();
    sqlx::query!(
        "insert into scheduler.skipped_fires (schedule_id, tenant_id, fire_time, reason, recorded_at)
         select s.*, $5 from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[]) as s
         on conflict do nothing",
        &schedules,
        &tenants,
        &fires,
        &reasons,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One entry of the history.
#[derive(Debug, Clone)]
pub struct FireRow {
    pub fire_time: DateTime<Utc>,
    pub disposition: FireDisposition,
    pub execution_id: Option<Uuid>,
    pub status: Option<ExecutionStatus>,
    pub recorded_at: DateTime<Utc>,
}

/// A schedule's fire times, latest first, with the total.
pub async fn history(
    pool: &PgPool,
    tenant_id: Uuid,
    schedule_id: Uuid,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<FireRow>, i64)> {
    temponest_db::page!(
        pool, "scheduler.fires.history", skip, limit,
        FireRow { fire_time, disposition, execution_id, status, recorded_at },
        columns: r#"fire_time as "fire_time!", disposition as "disposition!: FireDisposition",
                    execution_id, status as "status: ExecutionStatus",
                    recorded_at as "recorded_at!""#,
        from: "(
                   select fire_time, 'executed' as disposition, id as execution_id, status,
                          created_at as recorded_at
                   from scheduler.executions
                   where schedule_id = $1 and tenant_id = $2 and trigger = 'schedule'
                   union all
                   select fire_time,
                          case reason when 'overlap' then 'skipped' else 'missed' end,
                          null, null, recorded_at
                   from scheduler.skipped_fires
                   where schedule_id = $1 and tenant_id = $2
               ) as fires",
        order: "order by fire_time desc offset $3 limit $4",
        filter: [schedule_id, tenant_id],
    )
    .await
}
