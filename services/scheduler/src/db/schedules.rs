//! `scheduler.schedules`: tenant-scoped CRUD with soft delete, and the engine's claim of due
//! schedules.

use crate::domain::policy::{MisfirePolicy, OverlapPolicy};
use crate::domain::timing::{IncompleteTiming, ScheduleType, Timing};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use temponest_db::names::UnknownName;
use uuid::Uuid;

use crate::models::ScheduleSpec;

/// One schedule row.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub name: String,
    pub schedule_type: ScheduleType,
    pub cron_expression: Option<String>,
    pub interval_seconds: Option<i64>,
    pub run_at: Option<DateTime<Utc>>,
    pub anchor: DateTime<Utc>,
    pub timezone: String,
    pub task_config: serde_json::Value,
    pub is_active: bool,
    pub overlap_policy: String,
    pub misfire_policy: String,
    pub catchup_window_seconds: i32,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: i32,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub run_count: i64,
    pub skipped_count: i64,
    pub missed_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ScheduleRow {
    /// The stored overlap policy (an unknown name is an error, never a default).
    pub fn overlap(&self) -> Result<OverlapPolicy, UnknownName> {
        OverlapPolicy::parse(&self.overlap_policy)
    }

    /// The stored misfire policy (an unknown name is an error, never a default).
    pub fn misfire(&self) -> Result<MisfirePolicy, UnknownName> {
        MisfirePolicy::parse(&self.misfire_policy)
    }

    /// The stored timing (the check constraint `schedules_type_fields` keeps it complete).
    pub fn timing(&self) -> Result<Timing, IncompleteTiming> {
        Timing::from_columns(
            self.schedule_type,
            self.cron_expression.as_deref(),
            self.interval_seconds,
            self.run_at,
            &self.timezone,
        )
    }
}

// Every statement that reads or returns whole schedule rows goes through `schedule_rows!`.
temponest_db::define_rows! {
    $ schedule_rows: ScheduleRow { id, tenant_id, agent_id, name, schedule_type, cron_expression,
                                   interval_seconds, run_at, anchor, timezone, task_config,
                                   is_active, overlap_policy, misfire_policy,
                                   catchup_window_seconds, max_retries, retry_delay_seconds,
                                   timeout_seconds, next_run, last_run, run_count, skipped_count,
                                   missed_count, created_at, updated_at },
    columns: r#"id, tenant_id, agent_id, name,
                schedule_type as "schedule_type: ScheduleType", cron_expression,
                interval_seconds, run_at, anchor, timezone, task_config, is_active,
                overlap_policy, misfire_policy, catchup_window_seconds, max_retries,
                retry_delay_seconds, timeout_seconds, next_run, last_run, run_count,
                skipped_count, missed_count, created_at, updated_at"#,
}

/// `statement` (returning the row) over a schedule's definition, the one argument list the
/// insert and the update share: `$1` id, `$2` tenant, `$3..$18` the spec (agent, name, kind,
/// timing, anchor, time zone, task, active, policies, retries, timeout), `$19` the next fire
/// time, `$20` `last`.
macro_rules! schedule_statement {
    ($statement:literal, $id:expr, $tenant_id:expr, $spec:expr, $next_run:expr, $last:expr) => {{
        let spec: &ScheduleSpec = $spec;
        schedule_rows!(
            returning $statement,
            $id,
            $tenant_id,
            spec.agent_id,
            spec.name,
            spec.timing.schedule_type().as_str(),
            spec.timing.cron_expression(),
            spec.timing.interval_seconds(),
            spec.timing.run_at(),
            spec.anchor,
            spec.timezone,
            spec.task_config,
            spec.is_active,
            spec.overlap_policy.as_str(),
            spec.misfire_policy.as_str(),
            spec.catchup_window_seconds,
            spec.max_retries,
            spec.retry_delay_seconds,
            spec.timeout_seconds,
            $next_run,
            $last
        )
    }};
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    tenant_id: Uuid,
    created_by: Uuid,
    spec: &ScheduleSpec,
    next_run: Option<DateTime<Utc>>,
) -> sqlx::Result<ScheduleRow> {
    schedule_statement!(
        r#"insert into scheduler.schedules (id, tenant_id, agent_id, name, schedule_type,
                cron_expression, interval_seconds, run_at, anchor, timezone, task_config,
                is_active, overlap_policy, misfire_policy, catchup_window_seconds, max_retries,
                retry_delay_seconds, timeout_seconds, next_run, created_by, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $9, $9)"#,
        id,
        tenant_id,
        spec,
        next_run,
        created_by
    )
    .fetch_one(conn)
    .await
}

// `find_for_update`'s lock serialises changes, manual triggers and the engine's firing of
// the schedule.
schedule_rows!(find {
    table: "scheduler.schedules",
    live: "deleted_at is null",
    metric: "scheduler.schedules",
    doc: "schedule",
});

/// The tenant's live schedules newest first (optionally of one agent, active or not), with
/// the total matching count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    is_active: Option<bool>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<ScheduleRow>, i64)> {
    schedule_rows!(
        page pool, "scheduler.schedules.list", skip, limit,
        from: "scheduler.schedules
               where tenant_id = $1 and deleted_at is null
                 and ($2::uuid is null or agent_id = $2)
                 and ($3::boolean is null or is_active = $3)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [tenant_id, agent_id, is_active],
    )
    .await
}

/// Replaces the definition of a live schedule (the caller merged the patch and computed the
/// next fire time).
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    spec: &ScheduleSpec,
    next_run: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<ScheduleRow>> {
    schedule_statement!(
        r#"update scheduler.schedules
         set agent_id = $3, name = $4, schedule_type = $5, cron_expression = $6,
             interval_seconds = $7, run_at = $8, anchor = $9, timezone = $10, task_config = $11,
             is_active = $12, overlap_policy = $13, misfire_policy = $14,
             catchup_window_seconds = $15, max_retries = $16, retry_delay_seconds = $17,
             timeout_seconds = $18, next_run = $19, updated_at = $20
         where id = $1 and tenant_id = $2 and deleted_at is null"#,
        id,
        tenant_id,
        spec,
        next_run,
        now
    )
    .fetch_optional(conn)
    .await
}

/// Soft-deletes a live schedule (it stops firing at once); false if there was none.
pub async fn soft_delete(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update scheduler.schedules set deleted_at = $3, updated_at = $3, next_run = null
         where id = $1 and tenant_id = $2 and deleted_at is null",
        id,
        tenant_id,
        now
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a manual trigger on the schedule.
pub async fn count_manual_run(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update scheduler.schedules set run_count = run_count + 1 where id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks up to `limit` active schedules due at `now`, earliest first, skipping schedules
/// another engine (or an API change) holds.
pub async fn claim_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<ScheduleRow>> {
    schedule_rows!(
        select "from scheduler.schedules
         where is_active and deleted_at is null and next_run is not null and next_run <= $1
         order by next_run
         limit $2
         for update skip locked",
        now,
        limit
    )
    .fetch_all(conn)
    .await
}

/// What one firing round did to a schedule.
#[derive(Debug, Clone)]
pub struct Advance {
    pub id: Uuid,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub ran: i64,
    pub skipped: i64,
    pub missed: i64,
}

/// Moves claimed schedules on, in one statement.
pub async fn advance(conn: &mut PgConnection, changes: &[Advance]) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
    let next: Vec<Option<DateTime<Utc>>> = changes.iter().map(|c| c.next_run).collect();
    let last: Vec<Option<DateTime<Utc>>> = changes.iter().map(|c| c.last_run).collect();
    let ran: Vec<i64> = changes.iter().map(|c| c.ran).collect();
    let skipped: Vec<i64> = changes.iter().map(|c| c.skipped).collect();
    let missed: Vec<i64> = changes.iter().map(|c| c.missed).collect();
    sqlx::query!(
        r#"update scheduler.schedules s
           set next_run = c.next_run,
               last_run = coalesce(c.last_run, s.last_run),
               run_count = s.run_count + c.ran,
               skipped_count = s.skipped_count + c.skipped,
               missed_count = s.missed_count + c.missed
           from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bigint[],
                       $5::bigint[], $6::bigint[])
                as c(id, next_run, last_run, ran, skipped, missed)
           where s.id = c.id"#,
        &ids,
        &next as &[Option<DateTime<Utc>>],
        &last as &[Option<DateTime<Utc>>],
        &ran,
        &skipped,
        &missed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When the engine next has something to do: the earliest due time of an active schedule or
/// of a pending execution that is not waiting for a running one of its schedule.
pub async fn next_wake(pool: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    temponest_db::timed(
        "scheduler.next_wake",
        sqlx::query_scalar!(
            r#"select least(
                   (select min(next_run) from scheduler.schedules
                    where is_active and deleted_at is null and next_run is not null),
                   (select min(e.run_after) from scheduler.executions e
                    where e.status = 'pending'
                      and (e.overlap_policy = 'allow'
                           or not exists (select 1 from scheduler.executions r
                                          where r.schedule_id = e.schedule_id
                                            and r.status = 'running')))) as "wake""#
        )
        .fetch_one(pool),
    )
    .await
}

/// Wakes every engine (at commit): a schedule was created or changed, or work was queued.
pub async fn notify(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("select pg_notify($1, '')", super::NOTIFY_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}
