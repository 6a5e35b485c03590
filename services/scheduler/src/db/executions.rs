//! `scheduler.executions`: queued by the firing engine or a manual trigger, claimed by the
//! runner with `FOR UPDATE SKIP LOCKED` and a lease, finished (or retried) under that lease.
//! Every write after the claim checks `leased_by`, so a runner that lost its lease (another
//! engine rescued the execution) can never overwrite the newer owner's result.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::execution::{ExecutionOutcome, ExecutionStatus, ExecutionTrigger};

/// One execution row as the API shows it.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub schedule_id: Uuid,
    pub agent_id: Uuid,
    pub trigger: ExecutionTrigger,
    pub fire_time: DateTime<Utc>,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub attempt: i32,
    pub agent_execution_id: Option<Uuid>,
    pub result: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub error: Option<String>,
    pub attempts: serde_json::Value,
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

// Every statement that reads or returns whole execution rows goes through `execution_rows!`.
temponest_db::define_rows! {
    $ execution_rows: ExecutionRow { id, tenant_id, schedule_id, agent_id, trigger, fire_time,
                                     status, outcome, attempt, agent_execution_id, result,
                                     prompt_tokens, completion_tokens, cost_usd, error, attempts,
                                     run_after, created_at, started_at, completed_at },
    columns: r#"id, tenant_id, schedule_id, agent_id,
                trigger as "trigger: ExecutionTrigger", fire_time,
                status as "status: ExecutionStatus", outcome as "outcome: ExecutionOutcome",
                attempt, agent_execution_id, result, prompt_tokens, completion_tokens,
                cost_usd, error, attempts, run_after, created_at, started_at,
                completed_at"#,
}

/// A new execution (queued `pending`).
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub schedule_id: Uuid,
    pub agent_id: Uuid,
    pub trigger: ExecutionTrigger,
    pub fire_time: DateTime<Utc>,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: i32,
    pub overlap_policy: String,
    pub task_config: serde_json::Value,
    pub run_after: DateTime<Utc>,
}

/// Queues executions in one statement; a (schedule, fire time) that already has one is left
/// alone. Returns the ids actually inserted.
pub async fn insert_many(conn: &mut PgConnection, new: &[NewExecution]) -> sqlx::Result<Vec<Uuid>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = new.iter().map(|n| n.id).collect();
    let tenants: Vec<Uuid> = new.iter().map(|n| n.tenant_id).collect();
    let schedules: Vec<Uuid> = new.iter().map(|n| n.schedule_id).collect();
    let agents: Vec<Uuid> = new.iter().map(|n| n.agent_id).collect();
    let triggers: Vec<String> = new.iter().map(|n| n.trigger.as_str().to_owned()).collect();
    let fires: Vec<DateTime<Utc>> = new.iter().map(|n| n.fire_time).collect();
    let retries: Vec<i32> = new.iter().map(|n| n.max_retries).collect();
    let delays: Vec<i32> = new.iter().map(|n| n.retry_delay_seconds).collect();
    let timeouts: Vec<i32> = new.iter().map(|n| n.timeout_seconds).collect();
    let overlaps: Vec<String> = new.iter().map(|n| n.overlap_policy.clone()).collect();
    let tasks: Vec<serde_json::Value> = new.iter().map(|n| n.task_config.clone()).collect();
    let run_after: Vec<DateTime<Utc>> = new.iter().map(|n| n.run_after).collect();
    sqlx::query_scalar!(
        "insert into scheduler.executions (id, tenant_id, schedule_id, agent_id, trigger,
                fire_time, max_retries, retry_delay_seconds, timeout_seconds, overlap_policy,
                task_config, run_after, created_at)
         select n.*, n.run_after
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[],
                     $6::timestamptz[], $7::int[], $8::int[], $9::int[], $10::text[],
                     $11::jsonb[], $12::timestamptz[])
              as n(id, tenant_id, schedule_id, agent_id, trigger, fire_time, max_retries,
                   retry_delay_seconds, timeout_seconds, overlap_policy, task_config, run_after)
         on conflict (schedule_id, fire_time) where trigger = 'schedule' do nothing
         returning id",
        &ids,
        &tenants,
        &schedules,
        &agents,
        &triggers,
        &fires,
        &retries,
        &delays,
        &timeouts,
        &overlaps,
        &tasks,
        &run_after
    )
    .fetch_all(conn)
    .await
}

/// Unfinished executions per schedule: (schedule, running, pending).
pub async fn active_counts(
    conn: &mut PgConnection,
    schedule_ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, i64, i64)>> {
    let rows = sqlx::query!(
        r#"select schedule_id,
                  count(*) filter (where status = 'running') as "running!",
                  count(*) filter (where status = 'pending') as "pending!"
           from scheduler.executions
           where schedule_id = any($1) and status in ('pending', 'running')
           group by schedule_id"#,
        schedule_ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.schedule_id, r.running, r.pending))
        .collect())
}

/// One execution of a schedule of the tenant.
pub async fn find(
    pool: &PgPool,
    tenant_id: Uuid,
    schedule_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ExecutionRow>> {
    temponest_db::timed(
        "scheduler.executions.find",
        execution_rows!(
            select "from scheduler.executions
                    where id = $1 and schedule_id = $2 and tenant_id = $3",
            id,
            schedule_id,
            tenant_id
        )
        .fetch_optional(pool),
    )
    .await
}

/// A schedule's executions newest first, optionally of one status, with the total.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    schedule_id: Uuid,
    status: Option<ExecutionStatus>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<ExecutionRow>, i64)> {
    let status = status.map(ExecutionStatus::as_str);
    execution_rows!(
        page pool, "scheduler.executions.list", skip, limit,
        from: "scheduler.executions
               where schedule_id = $1 and tenant_id = $2
                 and ($3::text is null or status = $3)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [schedule_id, tenant_id, status],
    )
    .await
}

/// An execution the runner claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub schedule_id: Uuid,
    pub agent_id: Uuid,
    pub trigger: ExecutionTrigger,
    pub fire_time: DateTime<Utc>,
    /// This attempt's number (1 = first).
    pub attempt: i32,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: i32,
    pub task_config: serde_json::Value,
    /// Set when an earlier attempt was released or rescued while its agent execution was
    /// under way: the runner adopts that execution instead of starting another.
    pub agent_execution_id: Option<Uuid>,
    pub attempt_started_at: DateTime<Utc>,
}

/// Claims up to `limit` pending executions due at `now` for `engine` (a lease until
/// `lease_until`), skipping those another engine holds and those that must wait for a
/// running execution of their schedule (overlap policies other than `allow`). The plan is an
/// ordered index range scan that stops at `limit`, whether or not the table has statistics.
pub async fn claim(
    pool: &PgPool,
    engine: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    temponest_db::timed(
        "scheduler.executions.claim",
        sqlx::query_file_as!(
            Claimed,
            "src/db/claim_executions.sql",
            engine,
            now,
            lease_until,
            limit
        )
        .fetch_all(pool),
    )
    .await
}

/// Records the agents service's execution id of the running attempt; false if the lease is
/// no longer `engine`'s.
pub async fn set_agent_execution(
    pool: &PgPool,
    id: Uuid,
    engine: Uuid,
    agent_execution_id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update scheduler.executions set agent_execution_id = $3
         where id = $1 and leased_by = $2 and status = 'running'",
        id,
        engine,
        agent_execution_id
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renews the leases `engine` holds on `ids`; returns the ids it still holds.
pub async fn heartbeat(
    pool: &PgPool,
    engine: Uuid,
    ids: &[Uuid],
    lease_until: DateTime<Utc>,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "update scheduler.executions set lease_until = $3
         where id = any($1) and leased_by = $2 and status = 'running'
         returning id",
        ids,
        engine,
        lease_until
    )
    .fetch_all(pool)
    .await
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub agent_execution_id: Option<Uuid>,
    pub outcome: ExecutionOutcome,
    pub result: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub error: Option<String>,
}

/// Finishes the execution (`completed` or `failed`) if `engine` still holds it; returns the
/// row when it did.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    engine: Uuid,
    status: ExecutionStatus,
    attempt: &AttemptResult,
    log: &serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query!(
        "update scheduler.executions
         set status = $3, outcome = $4, agent_execution_id = $5, result = $6,
             prompt_tokens = prompt_tokens + $7, completion_tokens = completion_tokens + $8,
             cost_usd = cost_usd + $9, error = $10, attempts = attempts || $11,
             completed_at = $12, leased_by = null, lease_until = null
         where id = $1 and leased_by = $2 and status = 'running'
         returning tenant_id, schedule_id",
        id,
        engine,
        status.as_str(),
        attempt.outcome.as_str(),
        attempt.agent_execution_id,
        attempt.result,
        attempt.prompt_tokens,
        attempt.completion_tokens,
        attempt.cost_usd,
        attempt.error,
        log,
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.tenant_id, r.schedule_id)))
}

/// Puts a failed attempt back in the queue for a retry at `run_after` (tokens and cost
/// spent so far are kept); false if `engine` no longer holds it.
pub async fn retry_later(
    pool: &PgPool,
    id: Uuid,
    engine: Uuid,
    attempt: &AttemptResult,
    log: &serde_json::Value,
    run_after: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update scheduler.executions
         set status = 'pending', agent_execution_id = null, error = $3,
             prompt_tokens = prompt_tokens + $4, completion_tokens = completion_tokens + $5,
             cost_usd = cost_usd + $6, attempts = attempts || $7, run_after = $8,
             leased_by = null, lease_until = null
         where id = $1 and leased_by = $2 and status = 'running'",
        id,
        engine,
        attempt.error,
        attempt.prompt_tokens,
        attempt.completion_tokens,
        attempt.cost_usd,
        log,
        run_after
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Returns what the `engines` still run to the queue (this engine at shutdown, or dead
/// engines found by a survivor): the same attempt is resumed by the next claim, which adopts
/// the agent execution if one was started.
pub async fn release(
    conn: &mut PgConnection,
    engines: &[Uuid],
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update scheduler.executions
         set status = 'pending', attempt = attempt - 1, run_after = $2, leased_by = null,
             lease_until = null
         where leased_by = any($1) and status = 'running'",
        engines,
        now
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A rescued execution that ran out of attempts (failed, outcome `abandoned`).
#[derive(Debug, Clone)]
pub struct Abandoned {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub schedule_id: Uuid,
    pub fire_time: DateTime<Utc>,
    pub agent_execution_id: Option<Uuid>,
}

/// Rescues running executions whose engine stopped renewing the lease (crashed) or that
/// outlived their timeout by `grace_secs`: back to the queue when attempts are left (the next
/// attempt adopts the agent execution if it still runs), otherwise failed as `abandoned`.
/// Returns (rescued count, abandoned ones).
pub async fn rescue(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    grace_secs: f64,
    limit: i64,
) -> sqlx::Result<(u64, Vec<Abandoned>)> {
    let rows = sqlx::query!(
        r#"with stuck as (
               select id from scheduler.executions
               where status = 'running'
                 and (lease_until < $1
                      or attempt_started_at + make_interval(secs => timeout_seconds + $2::float8) < $1)
               order by lease_until
               limit $3
               for update skip locked)
           update scheduler.executions e
           set status = case when e.attempt <= e.max_retries then 'pending' else 'failed' end,
               outcome = case when e.attempt <= e.max_retries then null else 'abandoned' end,
               completed_at = case when e.attempt <= e.max_retries then null else $1 end,
               error = 'the engine running this attempt stopped (lease expired) or it outlived its timeout',
               attempts = e.attempts || jsonb_build_array(jsonb_build_object(
                   'attempt', e.attempt, 'agent_execution_id', e.agent_execution_id,
                   'outcome', 'abandoned', 'error', 'lease expired',
                   'started_at', e.attempt_started_at, 'finished_at', $1)),
               run_after = $1, leased_by = null, lease_until = null
           from stuck
           where e.id = stuck.id
           returning e.id, e.tenant_id, e.schedule_id, e.fire_time,
                     e.status as "status: ExecutionStatus", e.agent_execution_id"#,
        now,
        grace_secs,
        limit
    )
    .fetch_all(conn)
    .await?;
    let count = rows.len() as u64;
    let abandoned = rows
        .into_iter()
        .filter(|r| r.status == ExecutionStatus::Failed)
        .map(|r| Abandoned {
            id: r.id,
            tenant_id: r.tenant_id,
            schedule_id: r.schedule_id,
            fire_time: r.fire_time,
            agent_execution_id: r.agent_execution_id,
        })
        .collect();
    Ok((count, abandoned))
}

/// Cancels the queued (not running) executions of a deleted schedule.
pub async fn cancel_pending(
    conn: &mut PgConnection,
    schedule_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update scheduler.executions
         set status = 'failed', outcome = 'cancelled', error = 'the schedule was deleted',
             completed_at = $2
         where schedule_id = $1 and status = 'pending'",
        schedule_id,
        now
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Pending executions due now (the queue depth gauge).
pub async fn queue_depth(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from scheduler.executions
           where status = 'pending' and run_after <= $1"#,
        now
    )
    .fetch_one(pool)
    .await
}

/// Deletes up to `limit` finished executions completed before `before` (the retention
/// index `executions_finished_idx`); returns how many went.
pub async fn purge_finished(pool: &PgPool, before: DateTime<Utc>, limit: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from scheduler.executions
         where id in (select id from scheduler.executions
                      where completed_at is not null and completed_at < $1
                      limit $2)",
        before,
        limit
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// Deletes up to `limit` skipped/missed fire times recorded before `before`; returns how many
/// went.
pub async fn purge_skipped_fires(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from scheduler.skipped_fires
         where (schedule_id, fire_time) in (select schedule_id, fire_time
                                            from scheduler.skipped_fires
                                            where recorded_at < $1 limit $2)",
        before,
        limit
    )
    .execute(pool)
    .await?
    .rows_affected())
}
