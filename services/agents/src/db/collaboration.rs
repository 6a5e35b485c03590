//! `agents.collaboration_sessions` and `agents.collaboration_steps`: sessions (pending →
//! running → completed | failed, with the process driving them), and each step attempt as the
//! link from an execution to its session under a stable step key.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::collaboration::{Pattern, SessionOutcome, SessionStatus};
use crate::domain::execution::{ExecutionOutcome, ExecutionStatus};

/// One session row.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pattern: Pattern,
    pub agent_ids: Vec<Uuid>,
    pub request: serde_json::Value,
    pub status: SessionStatus,
    pub outcome: Option<SessionOutcome>,
    pub error: Option<String>,
    pub final_output: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The latest attempt of one step, with its execution.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub session_id: Uuid,
    pub step_key: String,
    pub attempt: i32,
    pub ordinal: i32,
    pub agent_id: Uuid,
    pub input: String,
    pub execution_id: Uuid,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub response: Option<String>,
    pub error: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost_nanos: i64,
    pub unpriced: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// What every attempt of every step of the session cost together.
    pub session_cost_nanos: i64,
}

// Every statement that reads or returns whole session rows goes through `session_rows!`.
temponest_db::define_rows! {
    $ session_rows: SessionRow { id, tenant_id, pattern, agent_ids, request, status, outcome,
                                 error, final_output, created_by, created_at, started_at,
                                 completed_at },
    columns: r#"id, tenant_id, pattern as "pattern: Pattern", agent_ids, request,
                status as "status: SessionStatus", outcome as "outcome: SessionOutcome",
                error, final_output, created_by, created_at, started_at, completed_at"#,
}

/// A new session.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pattern: Pattern,
    pub agent_ids: &'a [Uuid],
    pub request: &'a serde_json::Value,
    pub owner_id: Uuid,
    pub created_by: Uuid,
}

/// A new attempt of a step.
pub struct NewStep<'a> {
    pub session_id: Uuid,
    pub step_key: &'a str,
    pub ordinal: i32,
    pub agent_id: Uuid,
    pub input: &'a str,
    pub execution_id: Uuid,
}

pub async fn insert(conn: &mut PgConnection, new: &NewSession<'_>) -> sqlx::Result<SessionRow> {
    session_rows!(
        returning r#"insert into agents.collaboration_sessions
                (id, tenant_id, pattern, agent_ids, request, owner_id, created_by)
         values ($1, $2, $3, $4, $5, $6, $7)"#,
        new.id,
        new.tenant_id,
        new.pattern as Pattern,
        new.agent_ids,
        new.request,
        new.owner_id,
        new.created_by
    )
    .fetch_one(conn)
    .await
}

session_rows!(find_unlocked {
    table: "agents.collaboration_sessions",
    metric: "collaboration",
    doc: "session",
});

/// The tenant's sessions newest first, optionally of one pattern and/or with one status,
/// with the total count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    pattern: Option<Pattern>,
    status: Option<SessionStatus>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<SessionRow>, i64)> {
    session_rows!(
        page pool, "collaboration.list", skip, limit,
        from: "agents.collaboration_sessions
               where tenant_id = $1
                 and ($2::text is null or pattern = $2)
                 and ($3::text is null or status = $3)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [tenant_id, pattern as Option<Pattern>, status as Option<SessionStatus>],
    )
    .await
}

/// The latest attempt of every step of the tenant's `sessions` (one query for any number of
/// sessions), ordered by session, then by where each step is shown.
pub async fn steps_of(
    pool: &PgPool,
    tenant_id: Uuid,
    sessions: &[Uuid],
) -> sqlx::Result<Vec<StepRow>> {
    let mut rows = temponest_db::timed(
        "collaboration.steps",
        sqlx::query_as!(
            StepRow,
            r#"select distinct on (s.session_id, s.step_key)
                      s.session_id, s.step_key, s.attempt, s.ordinal, s.agent_id, s.input,
                      s.execution_id, e.status as "status: ExecutionStatus",
                      e.outcome as "outcome: ExecutionOutcome", e.response, e.error,
                      e.prompt_tokens, e.completion_tokens, e.cost_nanos, e.unpriced,
                      e.started_at, e.completed_at,
                      sum(e.cost_nanos) over (partition by s.session_id)::bigint as "session_cost_nanos!"
               from agents.collaboration_steps s
               join agents.executions e on e.id = s.execution_id
               where s.session_id = any($2) and e.tenant_id = $1
               order by s.session_id, s.step_key, s.attempt desc"#,
            tenant_id,
            sessions
        )
        .fetch_all(pool),
    )
    .await?;
    rows.sort_by(|a, b| {
        (a.session_id, a.ordinal, &a.step_key).cmp(&(b.session_id, b.ordinal, &b.step_key))
    });
    Ok(rows)
}

/// pending → running (a resumed session stays running); None if it has finished.
pub async fn mark_running(
    pool: &PgPool,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<SessionRow>> {
    session_rows!(
        returning r#"update agents.collaboration_sessions
           set status = 'running', started_at = coalesce(started_at, now())
           where id = $1 and tenant_id = $2 and status in ('pending', 'running')"#,
        id,
        tenant_id
    )
    .fetch_optional(pool)
    .await
}

/// Locks the session's row and tells whether it is still unfinished (a cancellation waits
/// for the lock, so no step starts after a session was cancelled).
pub async fn lock_unfinished(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let status = sqlx::query_scalar!(
        r#"select status as "status: SessionStatus" from agents.collaboration_sessions
           where id = $1 and tenant_id = $2 for update"#,
        id,
        tenant_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(status.is_some_and(|s| !s.is_finished()))
}

/// Records a new attempt of a step (attempt numbers count up per key).
pub async fn insert_step(conn: &mut PgConnection, step: &NewStep<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into agents.collaboration_steps
                (session_id, step_key, attempt, ordinal, agent_id, input, execution_id)
         values ($1, $2,
                 coalesce((select max(attempt) from agents.collaboration_steps
                           where session_id = $1 and step_key = $2), 0) + 1,
                 $3, $4, $5, $6)",
        step.session_id,
        step.step_key,
        step.ordinal,
        step.agent_id,
        step.input,
        step.execution_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// running → completed | failed (as `outcome` implies); None if it had already finished
/// (cancelled).
pub async fn finish(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    outcome: SessionOutcome,
    error: Option<&str>,
    final_output: Option<&str>,
) -> sqlx::Result<Option<SessionRow>> {
    session_rows!(
        returning r#"update agents.collaboration_sessions
           set status = $3, outcome = $4, error = $5, final_output = $6, completed_at = now(),
               owner_id = null
           where id = $1 and tenant_id = $2 and status in ('pending', 'running')"#,
        id,
        tenant_id,
        outcome.status() as SessionStatus,
        outcome as SessionOutcome,
        error,
        final_output
    )
    .fetch_optional(conn)
    .await
}

/// Cancels an unfinished session of the tenant; None if there is none.
pub async fn cancel(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    reason: &str,
) -> sqlx::Result<Option<SessionRow>> {
    session_rows!(
        returning r#"update agents.collaboration_sessions
           set status = 'failed', outcome = 'cancelled', error = $3, completed_at = now(),
               owner_id = null
           where id = $1 and tenant_id = $2 and status in ('pending', 'running')"#,
        id,
        tenant_id,
        reason
    )
    .fetch_optional(conn)
    .await
}

/// The session's executions that have not finished (any attempt).
pub async fn unfinished_executions(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "select s.execution_id from agents.collaboration_steps s
         join agents.executions e on e.id = s.execution_id
         where s.session_id = $1 and e.tenant_id = $2 and e.status in ('pending', 'running')",
        id,
        tenant_id
    )
    .fetch_all(conn)
    .await
}

/// Gives up a session this process drives (it shuts down): it stays running, free for any
/// process to resume.
pub async fn release(pool: &PgPool, tenant_id: Uuid, id: Uuid, owner_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update agents.collaboration_sessions set owner_id = null
         where id = $1 and tenant_id = $2 and owner_id = $3 and status in ('pending', 'running')",
        id,
        tenant_id,
        owner_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Frees the unfinished sessions of dead processes, for survivors to resume.
pub async fn release_owned_by(conn: &mut PgConnection, owners: &[Uuid]) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update agents.collaboration_sessions set owner_id = null
         where owner_id = any($1) and status in ('pending', 'running')",
        owners
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Takes up to `limit` free unfinished sessions for `owner_id` to drive (rows another process
/// is claiming are skipped).
pub async fn claim_free(
    pool: &PgPool,
    owner_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "update agents.collaboration_sessions set owner_id = $1
         where id in (select id from agents.collaboration_sessions
                      where status in ('pending', 'running') and owner_id is null
                      order by created_at
                      limit $2
                      for update skip locked)
         returning id, tenant_id",
        owner_id,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.tenant_id)).collect())
}

/// How many unfinished executions each of the tenant's `agents` has.
pub async fn unfinished_loads(
    pool: &PgPool,
    tenant_id: Uuid,
    agents: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"select agent_id, count(*) as "count!" from agents.executions
           where tenant_id = $1 and status in ('pending', 'running') and agent_id = any($2)
           group by agent_id"#,
        tenant_id,
        agents
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.agent_id, r.count)).collect())
}
