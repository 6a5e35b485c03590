//! The tool loop: the model is called while it asks for tools, up to the agent's
//! `max_iterations` calls; each tool call is run, recorded (`tools_used`, `tool_calls`) and its
//! result given back to the model. Calls stream when the client streams: every text delta
//! becomes a frame for followers at once and is queued for the batched write.

use std::time::Instant;

use serde_json::{Value, json};
use temponest_llm::{ChatRequest, ChatResponse, LlmError, Message, Provider};
use tokio::sync::mpsc;

use super::ledger::{self, InFlight};
use super::status::{CallStatus, ExecutionOutcome};
use super::{Job, RunRecord};
use crate::domain::budgets::{self, BudgetError};
use crate::domain::runs::Run;
use crate::domain::tools::knowledge_search;
use crate::state::AppState;

/// Tool results kept in `tool_calls` (the model sees them whole, up to the tool's own cap).
const MAX_RECORDED_RESULT: usize = 4 * 1024;

/// Why a run stopped without an answer.
pub enum Stop {
    Failed {
        outcome: ExecutionOutcome,
        error: String,
    },
    Cancelled,
    /// The process shut down.
    Interrupted,
    TimedOut,
}

impl Stop {
    fn failed(error: impl ToString) -> Self {
        Self::Failed {
            outcome: ExecutionOutcome::Failed,
            error: error.to_string(),
        }
    }
}

/// The tools a run called, as the execution records them.
#[derive(Default)]
pub struct ToolLog {
    /// Name of each tool called, in call order.
    pub used: Vec<String>,
    /// Each call in detail: tool, arguments, result or error, duration, iteration.
    pub calls: Vec<Value>,
}

/// Runs the tool loop to the model's final answer.
pub async fn drive(
    state: &AppState,
    run: &Run,
    job: &Job,
    record: &mut RunRecord,
) -> Result<String, Stop> {
    let provider = state
        .providers
        .get(&job.agent.provider)
        .map_err(Stop::failed)?;
    let mut tools = state.tools.specs(&job.agent.tools);
    if !job.agent.rag_collection_ids.is_empty() {
        tools.push(knowledge_search::spec());
    }
    let mut messages = initial_messages(job);
    let max = job.agent.max_iterations.max(1);
    for iteration in 1..=max {
        record.ledger.flush(&state.pool).await;
        let request = ChatRequest {
            model: job.agent.model.clone(),
            messages: messages.clone(),
            tools: tools.clone(),
            temperature: Some(job.agent.temperature as f32),
            max_tokens: None,
        };
        let response = call_model(state, run, job, record, provider.as_ref(), &request).await?;
        if response.tool_calls.is_empty() {
            return Ok(response.content);
        }
        messages.push(Message::assistant(
            response.content.clone(),
            response.tool_calls.clone(),
        ));
        for call in &response.tool_calls {
            let started = Instant::now();
            let result = if call.name == knowledge_search::NAME
                && !job.agent.rag_collection_ids.is_empty()
            {
                knowledge_search::run(
                    state.knowledge.as_ref(),
                    job.tenant_id,
                    &job.agent.rag_collection_ids,
                    &call.arguments,
                )
                .await
                .map(|found| {
                    record.citations.extend(found.citations);
                    found.result
                })
            } else {
                state
                    .tools
                    .call(&job.agent.tools, &call.name, &call.arguments)
                    .await
            };
            let (seen_by_model, recorded_result, recorded_error) = match &result {
                Ok(value) => {
                    let text = value.to_string();
                    let recorded = truncate(&text, MAX_RECORDED_RESULT);
                    (text, Some(recorded), None)
                }
                Err(error) => {
                    let message = error.to_string();
                    (json!({ "error": message }).to_string(), None, Some(message))
                }
            };
            record.tools.used.push(call.name.clone());
            record.tools.calls.push(json!({
                "id": call.id,
                "tool": call.name,
                "arguments": call.arguments,
                "result": recorded_result,
                "error": recorded_error,
                "duration_ms": started.elapsed().as_millis() as u64,
                "iteration": iteration,
            }));
            metrics::counter!("agent_tool_calls_total", "tool" => state.tools.metric_label(&call.name), "outcome" => if result.is_ok() { "ok" } else { "error" })
                .increment(1);
            messages.push(Message::tool_result(call, seen_by_model));
        }
    }
    Err(Stop::Failed {
        outcome: ExecutionOutcome::MaxIterations,
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
    record: &mut RunRecord,
    provider: &dyn Provider,
    request: &ChatRequest,
) -> Result<ChatResponse, Stop> {
    let mut call = InFlight::start(request.messages.iter().map(|m| m.content.as_str()));
    reserve_budget(state, job, &mut call).await?;
    record.ledger.in_flight = Some(call);
    let result = if job.stream {
        let (tx, mut rx) = mpsc::channel::<String>(64);
        let call = provider.chat(request, Some(tx));
        tokio::pin!(call);
        let result = loop {
            tokio::select! {
                biased;
                Some(delta) = rx.recv() => on_delta(state, run, record, delta).await,
                result = &mut call => break result,
            }
        };
        while let Ok(delta) = rx.try_recv() {
            on_delta(state, run, record, delta).await;
        }
        result
    } else {
        provider.chat(request, None).await
    };
    let call = record.ledger.in_flight.take().expect("a call is in flight");
    match result {
        Ok(response) => {
            let usage = call.answered(response.usage, &response.content);
            record
                .ledger
                .record(state, job, &call, usage, CallStatus::Success)
                .await;
            Ok(response)
        }
        // Never sent: nothing to charge.
        Err(err @ LlmError::Unconfigured { .. }) => {
            if call.reserved() {
                budgets::release(&state.pool, call.id()).await;
            }
            Err(Stop::failed(err))
        }
        Err(err) => {
            record
                .ledger
                .record(state, job, &call, call.failed(), CallStatus::Failed)
                .await;
            Err(Stop::failed(err))
        }
    }
}

/// Reserves the call's worst case against the budgets that apply, or stops the run with
/// `budget_exceeded` before anything is sent. A database failure stops it too: a budget that
/// cannot be checked is not bypassed.
async fn reserve_budget(state: &AppState, job: &Job, call: &mut InFlight) -> Result<(), Stop> {
    let Some((price, _)) = ledger::resolve_price(state, job).await else {
        return Ok(()); // unpriced: $0 by our prices, allowed (see `budgets`)
    };
    let estimate = call.worst_case_nanos(&price);
    if estimate <= 0 {
        return Ok(()); // free
    }
    match budgets::applies(state, job.tenant_id, job.agent.id).await {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        Err(err) => {
            tracing::error!(error = %err, "could not read the tenant's budgets");
            return Err(Stop::failed(
                "could not check the budget; the model was not called",
            ));
        }
    }
    let reserved = budgets::reserve(
        &state.pool,
        job.tenant_id,
        job.agent.id,
        job.execution_id,
        call.id(),
        estimate,
    )
    .await
    .map_err(|err| match err {
        BudgetError::Exceeded { .. } => Stop::Failed {
            outcome: ExecutionOutcome::BudgetExceeded,
            error: err.to_string(),
        },
        BudgetError::Database(cause) => {
            // The cause stays in the log: the execution's error is shown to clients.
            tracing::error!(error = %cause, "could not reserve a model call's budget");
            Stop::failed("could not check the budget; the model was not called")
        }
    })?;
    call.set_reserved(reserved);
    Ok(())
}

/// A streamed text delta: a frame for followers, persisted in batches.
async fn on_delta(state: &AppState, run: &Run, record: &mut RunRecord, delta: String) {
    if delta.is_empty() {
        return;
    }
    if let Some(call) = record.ledger.in_flight.as_mut() {
        call.streamed(&delta);
    }
    let frame = json!({ "content": delta }).to_string();
    run.push(frame.clone());
    record.frames.push(frame);
    record.frames.flush_if_due(&state.pool).await;
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

/// `text` cut to at most `max` bytes (on a character boundary), marked with `…` when cut.
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

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn recorded_results_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…");
        // "é" is two bytes: a cut in its middle moves back before it.
        assert_eq!(truncate("aé", 2), "a…");
    }
}
