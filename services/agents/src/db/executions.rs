//! `agents.executions` and `agents.execution_frames`: the status machine (pending → running →
//! completed | failed) with every step persisted, the streamed frames kept for resume, and the
//! heartbeat that lets a surviving process fail executions whose process died.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::execution::{ExecutionOutcome, ExecutionStatus};

/// One execution row.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub user_message: String,
    pub context: serde_json::Value,
    pub response: Option<String>,
    pub tools_used: Vec<String>,
    pub tool_calls: serde_json::Value,
    /// The knowledge chunks `knowledge_search` returned during the run.
    pub citations: serde_json::Value,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost_nanos: i64,
    pub unpriced: bool,
    pub error: Option<String>,
    pub stream: bool,
    pub provider: String,
    pub model: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

// Every statement that reads or returns whole execution rows goes through `execution_rows!`.
temponest_db::define_rows! {
    $ execution_rows: ExecutionRow { id, tenant_id, agent_id, status, outcome, user_message,
                                     context, response, tools_used, tool_calls, citations,
                                     prompt_tokens, completion_tokens, cost_nanos, unpriced, error,
                                     stream, provider, model, created_at, started_at, completed_at },
    columns: r#"id, tenant_id, agent_id, status as "status: ExecutionStatus",
                outcome as "outcome: ExecutionOutcome", user_message, context, response,
                tools_used, tool_calls, citations, prompt_tokens, completion_tokens,
                cost_nanos, unpriced, error, stream, provider, model, created_at,
                started_at, completed_at"#,
}

/// What a new execution is.
pub struct NewExecution<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub user_message: &'a str,
    pub context: &'a serde_json::Value,
    pub stream: bool,
    pub provider: &'a str,
    pub model: &'a str,
    pub owner_id: Uuid,
    pub created_by: Uuid,
    /// The project its spend is reported under.
    pub project_id: Option<&'a str>,
}

/// The totals an execution ends with.
pub struct Totals<'a> {
    pub response: Option<&'a str>,
    pub tools_used: &'a [String],
    pub tool_calls: &'a serde_json::Value,
    pub citations: &'a serde_json::Value,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost_nanos: i64,
    pub unpriced: bool,
}

/// A query macro's call `query!(statement, args..)` with the totals bound after `args`, in the
/// order both statements that record them number their parameters: response, tools used,
/// tool calls, prompt and completion tokens, cost, unpriced, citations.
macro_rules! with_totals {
    ($($query:ident)::+!($($statement_and_args:tt)+), $totals:expr) => {{
        let totals: &Totals<'_> = $totals;
        $($query)::+!(
            $($statement_and_args)+,
            totals.response,
            totals.tools_used,
            totals.tool_calls,
            totals.prompt_tokens,
            totals.completion_tokens,
            totals.cost_nanos,
            totals.unpriced,
            totals.citations
        )
    }};
}

pub async fn insert_pending(
    conn: &mut PgConnection,
    new: &NewExecution<'_>,
) -> sqlx::Result<ExecutionRow> {
    execution_rows!(
        returning r#"insert into agents.executions (id, tenant_id, agent_id, user_message, context, stream,
                provider, model, owner_id, created_by, project_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        new.id,
        new.tenant_id,
        new.agent_id,
        new.user_message,
        new.context,
        new.stream,
        new.provider,
        new.model,
        new.owner_id,
        new.created_by,
        new.project_id
    )
    .fetch_one(conn)
    .await
}

/// pending → running; None if it is no longer pending (cancelled meanwhile).
pub async fn mark_running(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ExecutionRow>> {
    execution_rows!(
        returning r#"update agents.executions
         set status = 'running', started_at = now(), heartbeat_at = now()
         where id = $1 and status = 'pending'"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// running → completed | failed (as `outcome` implies) with the totals; None if it had
/// already been finished (cancelled or declared abandoned).
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    outcome: ExecutionOutcome,
    error: Option<&str>,
    totals: &Totals<'_>,
) -> sqlx::Result<Option<ExecutionRow>> {
    with_totals!(
        execution_rows!(
            returning r#"update agents.executions
         set status = $2, outcome = $3, error = $4, response = $5, tools_used = $6,
             tool_calls = $7, prompt_tokens = $8, completion_tokens = $9, cost_nanos = $10,
             unpriced = $11, citations = $12, completed_at = now()
         where id = $1 and status in ('pending', 'running')"#,
            id,
            outcome.status() as ExecutionStatus,
            outcome as ExecutionOutcome,
            error
        ),
        totals
    )
    .fetch_optional(conn)
    .await
}

/// Records what a run that was stopped from outside (cancelled) had used by then; the status
/// set by whoever stopped it stays.
pub async fn record_totals(
    conn: &mut PgConnection,
    id: Uuid,
    totals: &Totals<'_>,
) -> sqlx::Result<()> {
    with_totals!(
        sqlx::query!(
            "update agents.executions
         set response = coalesce($2, response), tools_used = $3, tool_calls = $4,
             prompt_tokens = $5, completion_tokens = $6, cost_nanos = $7, unpriced = $8,
             citations = $9
         where id = $1",
            id
        ),
        totals
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels an unfinished execution of the tenant and notifies every process (the one running
/// it aborts the upstream call). None if there is no unfinished execution with this id.
pub async fn cancel(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    reason: &str,
) -> sqlx::Result<Option<ExecutionRow>> {
    let row = execution_rows!(
        returning r#"update agents.executions
         set status = 'failed', outcome = 'cancelled', error = $3, completed_at = now()
         where id = $1 and tenant_id = $2 and status in ('pending', 'running')"#,
        id,
        tenant_id,
        reason
    )
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        sqlx::query!("select pg_notify($1, $2)", CANCEL_CHANNEL, id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(row)
}

/// Notified (at commit) with the id of every cancelled execution.
pub const CANCEL_CHANNEL: &str = "agents_execution_cancel";

execution_rows!(find_unlocked {
    table: "agents.executions",
    metric: "executions",
    doc: "execution",
});

/// The tenant's executions newest first, optionally of one agent and/or with one status.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    status: Option<ExecutionStatus>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<ExecutionRow>, i64)> {
    execution_rows!(
        page pool, "executions.list", skip, limit,
        from: "agents.executions
               where tenant_id = $1
                 and ($2::uuid is null or agent_id = $2)
                 and ($3::text is null or status = $3)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [tenant_id, agent_id, status as Option<ExecutionStatus>],
    )
    .await
}

/// Appends streamed frames (`first_seq`, `first_seq + 1`, ...). Replays of a batch are
/// ignored, so a retried flush cannot duplicate frames.
pub async fn append_frames(
    conn: &mut PgConnection,
    id: Uuid,
    first_seq: i32,
    frames: &[String],
) -> sqlx::Result<()> {
    if frames.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i32> = (first_seq..first_seq + frames.len() as i32).collect();
    sqlx::query!(
        "insert into agents.execution_frames (execution_id, seq, data)
         select $1, s, d from unnest($2::int[], $3::text[]) as f(s, d)
         on conflict do nothing",
        id,
        &seqs,
        frames
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Persisted frames after `after_seq`, in order.
pub async fn frames_after(
    pool: &PgPool,
    id: Uuid,
    after_seq: i32,
) -> sqlx::Result<Vec<(i32, String)>> {
    let rows = sqlx::query!(
        "select seq, data from agents.execution_frames
         where execution_id = $1 and seq > $2 order by seq limit 1000",
        id,
        after_seq
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.seq, r.data)).collect())
}

/// Records that this process's executions are alive.
pub async fn heartbeat(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "update agents.executions set heartbeat_at = now()
         where id = any($1) and status in ('pending', 'running')",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Fails the unfinished executions of the dead processes `owners` (outcome `abandoned`),
/// returning them.
pub async fn fail_owned_by(
    conn: &mut PgConnection,
    owners: &[Uuid],
) -> sqlx::Result<Vec<ExecutionRow>> {
    execution_rows!(
        returning r#"update agents.executions
         set status = 'failed', outcome = 'abandoned', completed_at = now(),
             error = 'the process running this execution stopped before it finished'
         where owner_id = any($1) and status in ('pending', 'running')"#,
        owners
    )
    .fetch_all(conn)
    .await
}

/// Fails unfinished executions whose process stopped sending heartbeats, returning them.
/// Rows another sweeper holds are skipped.
pub async fn fail_abandoned(
    conn: &mut PgConnection,
    older_than: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<ExecutionRow>> {
    execution_rows!(
        returning "update agents.executions
         set status = 'failed', outcome = 'abandoned', completed_at = now(),
             error = 'the process running this execution stopped before it finished'
         where id in (
             select id from agents.executions
             where status in ('pending', 'running') and heartbeat_at < $1
             order by heartbeat_at
             limit $2
             for update skip locked)",
        older_than,
        limit
    )
    .fetch_all(conn)
    .await
}
