//! Runs one execution: pending → running → completed | failed, every step persisted and
//! published to the outbox in the same transaction. The model is called in a loop while it
//! asks for tools (up to the agent's `max_iterations` calls); every call writes a cost record;
//! streamed text is fanned out to followers as numbered frames and persisted in batches.
//!
//! Cancellation and the time limit drop the model call in flight, which aborts the upstream
//! HTTP request; what that call had used is still recorded (estimated when the provider could
//! not report it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use temponest_llm::{ChatRequest, ChatResponse, Message, Provider, Usage};
use temponest_outbox::catalogue;
use temponest_web::ApiError;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::db::costs::{self, CostRecord};
use crate::db::executions::{self, Totals};
use crate::domain::runs::Run;
use crate::models::{AgentOut, ExecutionOut};
use crate::state::AppState;

/// Frames are persisted when this many are waiting ...
const FRAME_BATCH: usize = 64;
/// ... or when the oldest waiting one is this old.
const FRAME_FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Tool results kept in `tool_calls` (the model sees them whole, up to the tool's own cap).
const MAX_RECORDED_RESULT: usize = 4 * 1024;

/// What to run.
pub struct Job {
    pub execution_id: Uuid,
    pub tenant_id: Uuid,
    pub agent: AgentOut,
    pub user_message: String,
    pub context: Value,
    pub stream: bool,
}

/// Why a run stopped without an answer.
enum Stop {
    Failed {
        outcome: &'static str,
        error: String,
    },
    Cancelled,
    /// The process shut down.
    Interrupted,
    TimedOut,
}

/// The model call in progress.
struct InFlight {
    cost_id: Uuid,
    started: Instant,
    prompt_estimate: u32,
    streamed_text: String,
}

/// What a run has used and produced so far.
#[derive(Default)]
struct Ledger {
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_nanos: i64,
    unpriced: bool,
    tools_used: Vec<String>,
    tool_calls: Vec<Value>,
    in_flight: Option<InFlight>,
    /// Cost records not yet written: flushed before the next model call, and the last ones in
    /// the finishing transaction (so an execution's totals always equal its cost rows).
    unwritten_costs: Vec<CostRecord>,
    /// Frames not yet persisted, and the sequence number of the first of them.
    pending_frames: Vec<String>,
    first_pending_seq: i32,
    oldest_pending: Option<Instant>,
}

/// Runs `job` to its end and returns the execution as stored.
pub async fn run_execution(
    state: AppState,
    run: Arc<Run>,
    job: Job,
) -> Result<ExecutionOut, ApiError> {
    let result = run_inner(&state, &run, &job).await;
    run.finish();
    state.runs.remove(job.execution_id);
    result
}

async fn run_inner(state: &AppState, run: &Run, job: &Job) -> Result<ExecutionOut, ApiError> {
    let began = Instant::now();
    let mut tx = state.pool.begin().await?;
    let running = executions::mark_running(&mut tx, job.execution_id).await?;
    if let Some(row) = &running {
        let out = ExecutionOut::from(row.clone());
        temponest_outbox::publish(
            &mut tx,
            job.tenant_id,
            catalogue::EXECUTION_STARTED,
            &json!(out),
        )
        .await?;
    }
    tx.commit().await?;
    if running.is_none() {
        // Cancelled before it started.
        return reload(state, job).await;
    }

    let mut ledger = Ledger {
        first_pending_seq: 1,
        ..Ledger::default()
    };
    let limit = Duration::from_secs(state.config.executions.timeout_secs);
    let result = tokio::select! {
        result = drive(state, run, job, &mut ledger) => result,
        () = run.cancel.cancelled() => Err(if state.runs.interrupted() { Stop::Interrupted } else { Stop::Cancelled }),
        () = tokio::time::sleep(limit) => Err(Stop::TimedOut),
    };
    if let Some(call) = ledger.in_flight.take() {
        // The call was dropped mid-flight: record what it had used.
        let status = if matches!(result, Err(Stop::Cancelled | Stop::Interrupted)) {
            "cancelled"
        } else {
            "failed"
        };
        let usage = Usage {
            prompt_tokens: call.prompt_estimate,
            completion_tokens: estimate_tokens(&call.streamed_text),
        };
        record_cost(state, job, &mut ledger, &call, usage, true, status).await;
    }
    let outcome = match &result {
        Ok(_) => "completed",
        Err(Stop::Failed { outcome, .. }) => outcome,
        Err(Stop::Cancelled) => "cancelled",
        Err(Stop::Interrupted) => "interrupted",
        Err(Stop::TimedOut) => "timed_out",
    };
    metrics::counter!("agent_executions_total", "provider" => job.agent.provider.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("agent_execution_duration_seconds", "provider" => job.agent.provider.clone())
        .record(began.elapsed().as_secs_f64());
    finalize(state, run, job, ledger, result).await
}

/// The tool loop.
async fn drive(
    state: &AppState,
    run: &Run,
    job: &Job,
    ledger: &mut Ledger,
) -> Result<String, Stop> {
    let provider = state
        .providers
        .get(&job.agent.provider)
        .map_err(|e| Stop::Failed {
            outcome: "failed",
            error: e.to_string(),
        })?;
    let tools = state.tools.specs(&job.agent.tools);
    let mut messages = initial_messages(job);
    let max = job.agent.max_iterations.max(1);
    for iteration in 1..=max {
        flush_costs(state, ledger).await;
        let request = ChatRequest {
            model: job.agent.model.clone(),
            messages: messages.clone(),
            tools: tools.clone(),
            temperature: Some(job.agent.temperature as f32),
            max_tokens: None,
        };
        let response = call_model(state, run, job, ledger, provider.as_ref(), &request).await?;
        if response.tool_calls.is_empty() {
            return Ok(response.content);
        }
        messages.push(Message::assistant(
            response.content.clone(),
            response.tool_calls.clone(),
        ));
        for call in &response.tool_calls {
            let started = Instant::now();
            let result = state
                .tools
                .call(&job.agent.tools, &call.name, &call.arguments)
                .await;
            let seen_by_model = match &result {
                Ok(value) => value.to_string(),
                Err(error) => json!({ "error": error }).to_string(),
            };
            ledger.tools_used.push(call.name.clone());
            ledger.tool_calls.push(json!({
                "id": call.id,
                "tool": call.name,
                "arguments": call.arguments,
                "result": result.as_ref().ok().map(|v| truncate(&v.to_string(), MAX_RECORDED_RESULT)),
                "error": result.as_ref().err(),
                "duration_ms": started.elapsed().as_millis() as u64,
                "iteration": iteration,
            }));
            metrics::counter!("agent_tool_calls_total", "tool" => state.tools.metric_label(&call.name), "outcome" => if result.is_ok() { "ok" } else { "error" })
                .increment(1);
            messages.push(Message::tool_result(call, seen_by_model));
        }
    }
    Err(Stop::Failed {
        outcome: "max_iterations",
        error: format!(
            "the model was still calling tools after max_iterations ({max}) calls; raise the agent's max_iterations or simplify the task"
        ),
    })
}

/// One model call (streamed when the client streams), its cost record and its frames.
async fn call_model(
    state: &AppState,
    run: &Run,
    job: &Job,
    ledger: &mut Ledger,
    provider: &dyn Provider,
    request: &ChatRequest,
) -> Result<ChatResponse, Stop> {
    ledger.in_flight = Some(InFlight {
        cost_id: Uuid::now_v7(),
        started: Instant::now(),
        prompt_estimate: request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content) + 4)
            .sum(),
        streamed_text: String::new(),
    });
    let result = if job.stream {
        let (tx, mut rx) = mpsc::channel::<String>(64);
        let call = provider.chat(request, Some(tx));
        tokio::pin!(call);
        let result = loop {
            tokio::select! {
                biased;
                Some(delta) = rx.recv() => on_delta(state, run, job, ledger, delta).await,
                result = &mut call => break result,
            }
        };
        while let Ok(delta) = rx.try_recv() {
            on_delta(state, run, job, ledger, delta).await;
        }
        result
    } else {
        provider.chat(request, None).await
    };
    let call = ledger.in_flight.take().expect("a call is in flight");
    match result {
        Ok(response) => {
            let (usage, estimated) = match response.usage {
                Some(usage) => (usage, false),
                None => (
                    Usage {
                        prompt_tokens: call.prompt_estimate,
                        completion_tokens: estimate_tokens(&response.content),
                    },
                    true,
                ),
            };
            record_cost(state, job, ledger, &call, usage, estimated, "success").await;
            Ok(response)
        }
        Err(err) if err.class() == "unconfigured" => Err(Stop::Failed {
            outcome: "failed",
            error: err.to_string(),
        }),
        Err(err) => {
            // A failed call consumed tokens only if it had started answering.
            let usage = Usage {
                prompt_tokens: if call.streamed_text.is_empty() {
                    0
                } else {
                    call.prompt_estimate
                },
                completion_tokens: estimate_tokens(&call.streamed_text),
            };
            record_cost(
                state,
                job,
                ledger,
                &call,
                usage,
                !call.streamed_text.is_empty(),
                "failed",
            )
            .await;
            Err(Stop::Failed {
                outcome: "failed",
                error: err.to_string(),
            })
        }
    }
}

/// A streamed text delta: a frame for followers, persisted in batches.
async fn on_delta(state: &AppState, run: &Run, job: &Job, ledger: &mut Ledger, delta: String) {
    if delta.is_empty() {
        return;
    }
    if let Some(call) = ledger.in_flight.as_mut() {
        call.streamed_text.push_str(&delta);
    }
    let frame = json!({ "content": delta }).to_string();
    run.push(frame.clone());
    ledger.pending_frames.push(frame);
    let oldest = *ledger.oldest_pending.get_or_insert_with(Instant::now);
    if ledger.pending_frames.len() >= FRAME_BATCH || oldest.elapsed() >= FRAME_FLUSH_EVERY {
        let mut conn = match state.pool.acquire().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "could not persist stream frames yet");
                return;
            }
        };
        match executions::append_frames(
            &mut conn,
            job.execution_id,
            ledger.first_pending_seq,
            &ledger.pending_frames,
        )
        .await
        {
            Ok(()) => {
                ledger.first_pending_seq += ledger.pending_frames.len() as i32;
                ledger.pending_frames.clear();
                ledger.oldest_pending = None;
            }
            Err(err) => tracing::warn!(error = %err, "could not persist stream frames yet"),
        }
    }
}

/// Prices a call and writes its cost record (idempotent by the call's id).
async fn record_cost(
    state: &AppState,
    job: &Job,
    ledger: &mut Ledger,
    call: &InFlight,
    usage: Usage,
    estimated: bool,
    status: &str,
) {
    let kind = state
        .providers
        .get(&job.agent.provider)
        .map(|p| p.kind())
        .ok();
    let tenant_price = match tenant_price(state, job.tenant_id, &job.agent.model).await {
        Ok(price) => price,
        Err(err) => {
            tracing::warn!(error = %err.detail, "could not read the tenant's price override");
            None
        }
    };
    let priced = kind.and_then(|kind| state.prices.resolve(kind, &job.agent.model, tenant_price));
    let (cost_nanos, unpriced, source) = match priced {
        Some((price, source)) => (price.cost_nanos(&usage), false, Some(source.label())),
        None => (0, true, None),
    };
    ledger.prompt_tokens += i64::from(usage.prompt_tokens);
    ledger.completion_tokens += i64::from(usage.completion_tokens);
    ledger.cost_nanos += cost_nanos;
    ledger.unpriced |= unpriced;
    let record = CostRecord {
        id: call.cost_id,
        tenant_id: job.tenant_id,
        agent_id: job.agent.id,
        execution_id: Some(job.execution_id),
        provider: job.agent.provider.clone(),
        model: job.agent.model.clone(),
        prompt_tokens: usage.prompt_tokens as i32,
        completion_tokens: usage.completion_tokens as i32,
        cost_nanos,
        unpriced,
        usage_estimated: estimated,
        price_source: source,
        duration_ms: call.started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        status: status.to_owned(),
        streamed: job.stream,
    };
    if unpriced {
        // Labelled by provider (a configured, bounded set), not by model: model names are
        // tenant input, and an unpriced one is by definition not in any list.
        metrics::counter!("llm_unpriced_calls_total", "provider" => job.agent.provider.clone())
            .increment(1);
    }
    ledger.unwritten_costs.push(record);
}

/// Writes the queued cost records (idempotent by id: a retried write cannot duplicate them).
async fn flush_costs(state: &AppState, ledger: &mut Ledger) {
    if ledger.unwritten_costs.is_empty() {
        return;
    }
    let written = async {
        let mut conn = state.pool.acquire().await?;
        for record in &ledger.unwritten_costs {
            costs::insert(&mut conn, record).await?;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await;
    match written {
        Ok(()) => ledger.unwritten_costs.clear(),
        // Kept: the finishing transaction writes them.
        Err(err) => tracing::warn!(error = %err, "could not write cost records yet"),
    }
}

/// The tenant's own price for a model (cached with the agent configuration, dropped on
/// change).
pub async fn tenant_price(
    state: &AppState,
    tenant_id: Uuid,
    model: &str,
) -> Result<Option<crate::domain::pricing::Price>, ApiError> {
    let pool = state.pool.clone();
    let model_owned = model.to_owned();
    state
        .cache
        .get_or_load(
            &temponest_cache::categories::AGENT_CONFIG,
            &price_cache_key(tenant_id, model),
            || async move {
                Ok::<_, ApiError>(costs::price_override(&pool, tenant_id, &model_owned).await?)
            },
        )
        .await
}

/// Cache key of a tenant's price override for a model.
pub fn price_cache_key(tenant_id: Uuid, model: &str) -> String {
    format!("price:{tenant_id}:{model}")
}

/// Writes the end state, the remaining frames and the outbox event in one transaction.
async fn finalize(
    state: &AppState,
    run: &Run,
    job: &Job,
    mut ledger: Ledger,
    result: Result<String, Stop>,
) -> Result<ExecutionOut, ApiError> {
    let (status, outcome, error, response) = match result {
        Ok(text) => ("completed", "completed", None, Some(text)),
        Err(Stop::Failed { outcome, error }) => ("failed", outcome, Some(error), None),
        Err(Stop::Cancelled) => (
            "failed",
            "cancelled",
            Some("the execution was cancelled".to_owned()),
            None,
        ),
        Err(Stop::Interrupted) => (
            "failed",
            "interrupted",
            Some("the service shut down while the execution was running; run it again".to_owned()),
            None,
        ),
        Err(Stop::TimedOut) => (
            "failed",
            "timed_out",
            Some(format!(
                "the execution exceeded its time limit of {} s",
                state.config.executions.timeout_secs
            )),
            None,
        ),
    };
    if job.stream
        && let Some(error) = &error
    {
        let frame = json!({ "content": "", "error": error, "outcome": outcome }).to_string();
        run.push(frame.clone());
        ledger.pending_frames.push(frame);
    }
    let tool_calls = Value::Array(std::mem::take(&mut ledger.tool_calls));
    let totals = Totals {
        response: response.as_deref(),
        tools_used: &ledger.tools_used,
        tool_calls: &tool_calls,
        prompt_tokens: ledger.prompt_tokens.min(i64::from(i32::MAX)) as i32,
        completion_tokens: ledger.completion_tokens.min(i64::from(i32::MAX)) as i32,
        cost_nanos: ledger.cost_nanos,
        unpriced: ledger.unpriced,
    };
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=4 {
        match write_end(
            state,
            job,
            &ledger,
            status,
            outcome,
            error.as_deref(),
            &totals,
        )
        .await
        {
            Ok(Some(out)) => return Ok(out),
            Ok(None) => return reload(state, job).await,
            Err(err) if attempt < 4 => {
                tracing::warn!(error = %err, attempt, "could not record the end of an execution; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(err) => return Err(err.into()),
        }
    }
    unreachable!("the last attempt returns")
}

async fn write_end(
    state: &AppState,
    job: &Job,
    ledger: &Ledger,
    status: &str,
    outcome: &str,
    error: Option<&str>,
    totals: &Totals<'_>,
) -> sqlx::Result<Option<ExecutionOut>> {
    let mut tx = state.pool.begin().await?;
    for record in &ledger.unwritten_costs {
        costs::insert(&mut tx, record).await?;
    }
    executions::append_frames(
        &mut tx,
        job.execution_id,
        ledger.first_pending_seq,
        &ledger.pending_frames,
    )
    .await?;
    let finished =
        executions::finish(&mut tx, job.execution_id, status, outcome, error, totals).await?;
    let out = match finished {
        Some(row) => {
            let out = ExecutionOut::from(row);
            let event = if status == "completed" {
                catalogue::EXECUTION_COMPLETED
            } else {
                catalogue::EXECUTION_FAILED
            };
            temponest_outbox::publish(&mut tx, job.tenant_id, event, &json!(out)).await?;
            Some(out)
        }
        // Someone else ended it (cancel, abandoned sweep): keep their status, add the usage.
        None => {
            executions::record_totals(&mut tx, job.execution_id, totals).await?;
            None
        }
    };
    tx.commit().await?;
    Ok(out)
}

async fn reload(state: &AppState, job: &Job) -> Result<ExecutionOut, ApiError> {
    executions::find(&state.pool, job.tenant_id, job.execution_id)
        .await?
        .map(ExecutionOut::from)
        .ok_or_else(|| ApiError::not_found("execution"))
}

/// The system prompt (with the context, if any) and the user's message.
fn initial_messages(job: &Job) -> Vec<Message> {
    let mut system = job.agent.system_prompt.clone().unwrap_or_default();
    if job.context.as_object().is_some_and(|c| !c.is_empty()) {
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str("Context (JSON):\n");
        system.push_str(&job.context.to_string());
    }
    let mut messages = Vec::with_capacity(2);
    if !system.is_empty() {
        messages.push(Message::system(system));
    }
    messages.push(Message::user(job.user_message.clone()));
    messages
}

/// A rough token count (4 characters per token) for providers that report none.
fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
