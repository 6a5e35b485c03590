//! Runs one execution: pending → running → completed | failed, every step persisted and
//! published to the outbox in the same transaction. The concerns live beside this module:
//! [`tool_loop`] (calling the model and its tools), [`frames`] (streamed frames persisted in
//! batches), [`ledger`] (cost records and totals), [`status`] (the states as types) and
//! [`events`] (what the outbox carries). This module owns the run's frame: its start, its
//! stops (cancellation, shutdown, time limit) and the finishing transaction.
//!
//! Cancellation and the time limit drop the model call in flight, which aborts the upstream
//! HTTP request; what that call had used is still recorded (estimated when the provider could
//! not report it).
//!
//! The domain speaks in its own types: a run ends with the stored [`ExecutionRow`] or an
//! [`ExecutionError`]; the routes turn them into the API's.

pub mod events;
pub mod feed;
pub mod frames;
pub mod ledger;
pub mod status;
pub mod tool_loop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::executions::{self, ExecutionRow, Totals};
use crate::domain::runs::Run;
use crate::state::AppState;
use events::ExecutionEvent;
use frames::FrameBatch;
use ledger::Ledger;
pub use status::{CallStatus, ExecutionOutcome, ExecutionStatus};
use tool_loop::{Stop, ToolLog};

/// What a run needs of its agent (as it was when the execution was requested).
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub id: Uuid,
    /// The configured provider's name.
    pub provider: String,
    pub model: String,
    pub system_prompt: Option<String>,
    /// The tools the agent was given, by name.
    pub tools: Vec<String>,
    /// The knowledge collections `knowledge_search` searches (offered when not empty).
    pub rag_collection_ids: Vec<Uuid>,
    /// Model calls allowed while the model asks for tools.
    pub max_iterations: i32,
    pub temperature: f64,
}

/// What to run.
pub struct Job {
    pub execution_id: Uuid,
    pub tenant_id: Uuid,
    pub agent: AgentSettings,
    pub user_message: String,
    pub context: Value,
    pub stream: bool,
    /// The project its cost records are reported under.
    pub project_id: Option<String>,
}

/// Why a run could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// Postgres failed (after the retries of the finishing transaction).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The execution's row is gone.
    #[error("execution {0} not found")]
    NotFound(Uuid),
}

/// Everything a run accumulates until its end is written.
pub struct RunRecord {
    pub ledger: Ledger,
    pub frames: FrameBatch,
    pub tools: ToolLog,
    /// The chunks `knowledge_search` returned, in call order.
    pub citations: Vec<crate::models::Citation>,
}

/// Rows a run queues for Postgres (frames, cost records): written on a pooled connection as
/// it goes, and what is left in the finishing transaction.
trait WriteQueue {
    /// Writes what is queued on `conn` and keeps it queued: the finishing transaction uses
    /// this, and may be retried.
    async fn append(&self, conn: &mut PgConnection) -> sqlx::Result<()>;
    /// Forgets what [`append`](Self::append) wrote, once that is committed.
    fn forget_written(&mut self);
}

/// Writes `queue` now, in one transaction (a cost record and the settlement of its budget
/// reservation commit together); a failure is logged and what was queued stays for the next
/// write (writes are idempotent, so a replay cannot duplicate rows).
async fn write_now(pool: &PgPool, queue: &mut impl WriteQueue, what: &'static str) {
    let written = async {
        let mut tx = pool.begin().await?;
        queue.append(&mut tx).await?;
        tx.commit().await
    }
    .await;
    match written {
        Ok(()) => queue.forget_written(),
        Err(err) => tracing::warn!(error = %err, "could not write {what} yet"),
    }
}

/// Runs `job` to its end and returns the execution as stored.
pub async fn run_execution(
    state: AppState,
    run: Arc<Run>,
    job: Job,
) -> Result<ExecutionRow, ExecutionError> {
    let result = run_inner(&state, &run, &job).await;
    run.finish();
    state.runs.remove(job.execution_id);
    result
}

async fn run_inner(state: &AppState, run: &Run, job: &Job) -> Result<ExecutionRow, ExecutionError> {
    let began = Instant::now();
    let mut tx = state.pool.begin().await?;
    let running = executions::mark_running(&mut tx, job.execution_id).await?;
    if let Some(row) = &running {
        events::publish(&mut tx, ExecutionEvent::Started, row).await?;
    }
    tx.commit().await?;
    if running.is_none() {
        // Cancelled before it started.
        return reload(state, job).await;
    }

    let mut record = RunRecord {
        ledger: Ledger::default(),
        frames: FrameBatch::new(job.execution_id),
        tools: ToolLog::default(),
        citations: Vec::new(),
    };
    let limit = Duration::from_secs(state.config.executions.timeout_secs);
    let result = tokio::select! {
        result = tool_loop::drive(state, run, job, &mut record) => result,
        () = run.cancel.cancelled() => Err(if state.runs.interrupted() { Stop::Interrupted } else { Stop::Cancelled }),
        () = tokio::time::sleep(limit) => Err(Stop::TimedOut),
    };
    if let Some(call) = record.ledger.in_flight.take() {
        // The call was dropped mid-flight: record what it had used.
        let status = if matches!(result, Err(Stop::Cancelled | Stop::Interrupted)) {
            CallStatus::Cancelled
        } else {
            CallStatus::Failed
        };
        record
            .ledger
            .record(state, job, &call, call.dropped(), status)
            .await;
    }
    let end = End::of(result, state.config.executions.timeout_secs);
    metrics::counter!("agent_executions_total", "provider" => job.agent.provider.clone(), "outcome" => end.outcome.as_str())
        .increment(1);
    metrics::histogram!("agent_execution_duration_seconds", "provider" => job.agent.provider.clone())
        .record(began.elapsed().as_secs_f64());
    finalize(state, run, job, record, end).await
}

/// How a run ended, as the execution records it.
struct End {
    outcome: ExecutionOutcome,
    error: Option<String>,
    response: Option<String>,
}

impl End {
    fn of(result: Result<String, Stop>, timeout_secs: u64) -> Self {
        let failed = |outcome, error: String| Self {
            outcome,
            error: Some(error),
            response: None,
        };
        match result {
            Ok(text) => Self {
                outcome: ExecutionOutcome::Completed,
                error: None,
                response: Some(text),
            },
            Err(Stop::Failed { outcome, error }) => failed(outcome, error),
            Err(Stop::Cancelled) => failed(
                ExecutionOutcome::Cancelled,
                "the execution was cancelled".to_owned(),
            ),
            Err(Stop::Interrupted) => failed(
                ExecutionOutcome::Interrupted,
                "the service shut down while the execution was running; run it again".to_owned(),
            ),
            Err(Stop::TimedOut) => failed(
                ExecutionOutcome::TimedOut,
                format!("the execution exceeded its time limit of {timeout_secs} s"),
            ),
        }
    }
}

/// Writes the end state, the remaining frames and cost records and the outbox event in one
/// transaction, retried a few times: the run's usage must not be lost to a brief outage.
async fn finalize(
    state: &AppState,
    run: &Run,
    job: &Job,
    mut record: RunRecord,
    end: End,
) -> Result<ExecutionRow, ExecutionError> {
    if job.stream
        && let Some(error) = &end.error
    {
        let frame = serde_json::json!({ "content": "", "error": error, "outcome": end.outcome })
            .to_string();
        run.push(frame.clone());
        record.frames.push(frame);
    }
    let tool_calls = Value::Array(std::mem::take(&mut record.tools.calls));
    let citations =
        serde_json::to_value(&record.citations).unwrap_or_else(|_| Value::Array(Vec::new()));
    let totals = Totals {
        response: end.response.as_deref(),
        tools_used: &record.tools.used,
        tool_calls: &tool_calls,
        citations: &citations,
        prompt_tokens: record.ledger.prompt_tokens(),
        completion_tokens: record.ledger.completion_tokens(),
        cost_nanos: record.ledger.cost_nanos(),
        unpriced: record.ledger.unpriced(),
    };
    let mut retry = 0;
    loop {
        match write_end(state, job, &record, &end, &totals).await {
            Ok(Some(row)) => return Ok(row),
            Ok(None) => return reload(state, job).await,
            Err(err) if retry < FINISH_RETRIES => {
                tracing::warn!(error = %err, attempt = retry + 1, "could not record the end of an execution; retrying");
                tokio::time::sleep(FINISH_BACKOFF.delay(retry)).await;
                retry += 1;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Retries of the finishing transaction (a deadlock or a dropped connection): after about
/// 0.1, 0.2 and 0.4 s.
const FINISH_RETRIES: u32 = 3;
const FINISH_BACKOFF: temponest_retry::Backoff = temponest_retry::Backoff::new(
    Duration::from_millis(100),
    Duration::from_millis(400),
    temponest_retry::Jitter::Equal,
);

/// One attempt of the finishing transaction; `None` when someone else had ended the run.
async fn write_end(
    state: &AppState,
    job: &Job,
    record: &RunRecord,
    end: &End,
    totals: &Totals<'_>,
) -> sqlx::Result<Option<ExecutionRow>> {
    let mut tx = state.pool.begin().await?;
    record.frames.append(&mut tx).await?;
    let finished = executions::finish(
        &mut tx,
        job.execution_id,
        end.outcome,
        end.error.as_deref(),
        totals,
    )
    .await?;
    match &finished {
        Some(row) => events::publish(&mut tx, ExecutionEvent::ended(row), row).await?,
        // Someone else ended it (cancel, abandoned sweep): keep their status, add the usage.
        None => executions::record_totals(&mut tx, job.execution_id, totals).await?,
    }
    // The cost records last: they update rows every run of the tenant shares (the hourly
    // roll-up, a budget's usage), which stay locked only from here to the commit.
    record.ledger.append(&mut tx).await?;
    tx.commit().await?;
    Ok(finished)
}

async fn reload(state: &AppState, job: &Job) -> Result<ExecutionRow, ExecutionError> {
    executions::find(&state.pool, job.tenant_id, job.execution_id)
        .await?
        .ok_or(ExecutionError::NotFound(job.execution_id))
}
