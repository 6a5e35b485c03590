//! The runner: claims queued executions (lease, `SKIP LOCKED`), runs each as its own task
//! through the agents service, renews the leases with heartbeats, and records the result —
//! completed, retried later with backoff, or failed — under the lease. The rescuer returns
//! executions whose engine died (lease lapsed) or that outlived their timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use temponest_auth_client::PeerError;
use temponest_outbox::catalogue;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::executions::{self, AttemptResult, Claimed};
use crate::domain::agents::{AgentExecution, AgentExecutionStatus, AgentOutcome};
use crate::domain::execution::{ExecutionOutcome, ExecutionStatus, ExecutionTrigger};
use crate::state::AppState;

/// Runs claimed executions of one engine.
pub struct Runner {
    state: AppState,
    engine: Uuid,
    slots: Arc<Semaphore>,
    /// Executions running here, with the token that stops one whose lease was lost.
    running: Arc<Mutex<HashMap<Uuid, CancellationToken>>>,
    tasks: Mutex<JoinSet<()>>,
    /// Notified whenever a run ends (a slot freed, a buffered execution may start).
    pub finished: Arc<Notify>,
}

impl Runner {
    pub fn new(state: AppState, engine: Uuid) -> Self {
        let slots = Arc::new(Semaphore::new(state.config.scheduler.max_concurrent_runs));
        Self {
            state,
            engine,
            slots,
            running: Arc::default(),
            tasks: Mutex::new(JoinSet::new()),
            finished: Arc::new(Notify::new()),
        }
    }

    /// Whether every run slot is taken.
    pub fn is_full(&self) -> bool {
        self.slots.available_permits() == 0
    }

    /// Claims as many due executions as there are free slots and starts them; returns how
    /// many started.
    pub async fn claim_and_start(&self, now: DateTime<Utc>) -> sqlx::Result<usize> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let lease = chrono::Duration::seconds(self.state.config.scheduler.lease_secs as i64);
        let claimed =
            executions::claim(&self.state.pool, self.engine, now, now + lease, free as i64).await?;
        let started = claimed.len();
        for exec in claimed {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break; // cannot happen: only this task takes permits
            };
            let lost = CancellationToken::new();
            lock(&self.running).insert(exec.id, lost.clone());
            let (state, engine) = (self.state.clone(), self.engine);
            let (running, finished) = (self.running.clone(), self.finished.clone());
            lock(&self.tasks).spawn(async move {
                let id = exec.id;
                tokio::select! {
                    () = run(&state, engine, exec) => {}
                    () = lost.cancelled() => {
                        tracing::warn!(execution = %id, "lease lost; another engine took the execution over");
                    }
                }
                lock(&running).remove(&id);
                drop(permit);
                finished.notify_one();
            });
        }
        if started > 0 {
            metrics::gauge!("scheduler_running_executions").set(self.in_flight() as f64);
        }
        Ok(started)
    }

    /// Executions running here.
    pub fn in_flight(&self) -> usize {
        lock(&self.running).len()
    }

    /// Renews the leases of the executions running here; those whose lease is gone (another
    /// engine rescued them) are stopped.
    pub async fn heartbeat(&self, now: DateTime<Utc>) -> sqlx::Result<()> {
        let ids: Vec<Uuid> = lock(&self.running).keys().copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let lease = chrono::Duration::seconds(self.state.config.scheduler.lease_secs as i64);
        let held = executions::heartbeat(&self.state.pool, self.engine, &ids, now + lease).await?;
        let running = lock(&self.running);
        for id in ids.iter().filter(|id| !held.contains(id)) {
            if let Some(lost) = running.get(id) {
                lost.cancel();
            }
        }
        Ok(())
    }

    /// Waits until every run here has ended.
    pub async fn wait_idle(&self) {
        loop {
            let next = {
                let mut tasks = lock(&self.tasks);
                if tasks.is_empty() {
                    return;
                }
                // Reap finished tasks without blocking while holding the lock.
                while tasks.try_join_next().is_some() {}
                tasks.is_empty()
            };
            if next {
                return;
            }
            // A run's notification can precede its task's exit by a moment: look again soon.
            let _ = tokio::time::timeout(Duration::from_millis(50), self.finished.notified()).await;
        }
    }

    /// Stops the runs still going (their executions are released by the caller).
    pub fn abort_all(&self) {
        lock(&self.tasks).abort_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why an attempt did not complete.
#[derive(Debug, Clone)]
struct Failure {
    outcome: ExecutionOutcome,
    error: String,
    retryable: bool,
    /// Retry without backoff: the agent execution was abandoned because the process running
    /// it died, which says nothing about the task or the provider.
    at_once: bool,
}

impl From<PeerError> for Failure {
    fn from(err: PeerError) -> Self {
        match err {
            PeerError::NotFound(detail) => Failure {
                outcome: ExecutionOutcome::AgentNotFound,
                error: detail,
                retryable: false,
                at_once: false,
            },
            PeerError::Rejected(detail) => Failure {
                outcome: ExecutionOutcome::Failed,
                error: detail,
                retryable: false,
                at_once: false,
            },
            PeerError::Unavailable(detail) => Failure {
                outcome: ExecutionOutcome::Failed,
                error: detail,
                retryable: true,
                at_once: false,
            },
        }
    }
}

/// Runs one claimed attempt to its end and records it.
pub async fn run(state: &AppState, engine: Uuid, exec: Claimed) {
    if exec.trigger == ExecutionTrigger::Schedule && exec.attempt == 1 {
        let lateness = (exec.attempt_started_at - exec.fire_time)
            .num_microseconds()
            .unwrap_or(0)
            .max(0) as f64
            / 1e6;
        metrics::histogram!("scheduler_fire_lateness_seconds").record(lateness);
    }
    let agent_execution = Arc::new(Mutex::new(exec.agent_execution_id));
    let limit = Duration::from_secs(u64::try_from(exec.timeout_seconds).unwrap_or(1));
    let result = tokio::time::timeout(limit, attempt(state, engine, &exec, &agent_execution)).await;
    let agent_id = *lock(&agent_execution);
    let outcome = match result {
        Ok(Ok(done)) => classify(done),
        Ok(Err(failure)) => Ended::Failed(failure, None),
        Err(_elapsed) => {
            // Stop the model call, then keep what it had used.
            let mut used = None;
            if let Some(id) = agent_id {
                if let Err(err) = state.agents.cancel(exec.tenant_id, id).await {
                    tracing::warn!(execution = %exec.id, error = %err, "could not cancel the timed-out agent execution");
                }
                used = state
                    .agents
                    .execution(exec.tenant_id, id)
                    .await
                    .ok()
                    .flatten();
            }
            Ended::Failed(
                Failure {
                    outcome: ExecutionOutcome::TimedOut,
                    error: format!(
                        "the run exceeded timeout_seconds ({} s)",
                        exec.timeout_seconds
                    ),
                    retryable: true,
                    at_once: false,
                },
                used,
            )
        }
    };
    if let Err(err) = record(state, engine, &exec, agent_id, outcome).await {
        // The lease lapses and the rescuer retries the attempt, adopting the agent execution.
        tracing::error!(execution = %exec.id, error = %err, "could not record the run's result");
    }
}

/// Starts (or adopts) the agent execution and waits for its end.
async fn attempt(
    state: &AppState,
    engine: Uuid,
    exec: &Claimed,
    agent_execution: &Mutex<Option<Uuid>>,
) -> Result<AgentExecution, Failure> {
    let agents = &state.agents;
    if let Some(previous) = exec.agent_execution_id {
        // An earlier attempt was released or rescued while its agent execution ran: take
        // over that execution rather than running the task a second time.
        match agents.execution(exec.tenant_id, previous).await? {
            Some(found) if found.is_finished() => return Ok(found),
            Some(_) => {
                drain(agents.follow(exec.tenant_id, previous).await?).await;
                return finished(state, exec.tenant_id, previous).await;
            }
            None => {}
        }
    }
    let (id, response) = agents
        .start(exec.tenant_id, exec.agent_id, &exec.task_config)
        .await?;
    *lock(agent_execution) = Some(id);
    if !executions::set_agent_execution(&state.pool, exec.id, engine, id)
        .await
        .unwrap_or(true)
    {
        // Another engine owns the execution now; stop this run (its result would be ignored).
        let _ = agents.cancel(exec.tenant_id, id).await;
        return Err(Failure {
            outcome: ExecutionOutcome::Failed,
            error: "lease lost".to_owned(),
            retryable: true,
            at_once: false,
        });
    }
    drain(response).await;
    finished(state, exec.tenant_id, id).await
}

/// Reads a streamed response to its end (the frames themselves are not needed: the result
/// is read from the execution afterwards).
async fn drain(mut response: reqwest::Response) {
    while let Ok(Some(_)) = response.chunk().await {}
}

/// The finished agent execution; follows it once more if the stream broke before the end.
async fn finished(state: &AppState, tenant: Uuid, id: Uuid) -> Result<AgentExecution, Failure> {
    for _ in 0..3 {
        match state.agents.execution(tenant, id).await? {
            Some(found) if found.is_finished() => return Ok(found),
            Some(_) => drain(state.agents.follow(tenant, id).await?).await,
            None => break,
        }
    }
    Err(Failure {
        outcome: ExecutionOutcome::Failed,
        error: format!("agent execution {id} did not finish"),
        retryable: true,
        at_once: false,
    })
}

/// How an attempt ended: completed, or failed (with what the agent execution had used, when
/// there was one).
enum Ended {
    Completed(AgentExecution),
    Failed(Failure, Option<AgentExecution>),
}

fn classify(done: AgentExecution) -> Ended {
    if done.status == AgentExecutionStatus::Completed {
        return Ended::Completed(done);
    }
    let detail = done
        .error
        .clone()
        .unwrap_or_else(|| "the agent execution failed".to_owned());
    // (outcome, retry, retry at once)
    let (outcome, retryable, at_once) = match done.outcome() {
        Some(AgentOutcome::TimedOut) => (ExecutionOutcome::TimedOut, true, false),
        // Stopped on purpose, by a user or an operator.
        Some(AgentOutcome::Cancelled) => (ExecutionOutcome::Failed, false, false),
        // Refused before any model call: running it again minutes later would be refused
        // again until the budget is raised or its period ends.
        Some(AgentOutcome::BudgetExceeded) => (ExecutionOutcome::BudgetExceeded, false, false),
        // The process running it died or shut down, which says nothing about the task.
        Some(AgentOutcome::Abandoned | AgentOutcome::Interrupted) => {
            (ExecutionOutcome::Failed, true, true)
        }
        _ => (ExecutionOutcome::Failed, true, false),
    };
    let how = done.outcome_name.as_deref().unwrap_or("failed");
    Ended::Failed(
        Failure {
            outcome,
            error: format!("agent execution {} {how}: {detail}", done.id),
            retryable,
            at_once,
        },
        Some(done),
    )
}

/// Writes the attempt's result under the lease: completed, a retry later, or failed.
async fn record(
    state: &AppState,
    engine: Uuid,
    exec: &Claimed,
    agent_id: Option<Uuid>,
    outcome: Ended,
) -> sqlx::Result<()> {
    let now = state.clock.now();
    let mut at_once = false;
    let (status, attempt, retry) = match outcome {
        Ended::Completed(done) => (
            ExecutionStatus::Completed,
            AttemptResult {
                agent_execution_id: Some(done.id),
                outcome: ExecutionOutcome::Completed,
                result: done.response,
                prompt_tokens: done.tokens_used.prompt,
                completion_tokens: done.tokens_used.completion,
                cost_usd: done.cost_usd,
                error: None,
            },
            false,
        ),
        Ended::Failed(failure, used) => {
            let retry = failure.retryable && exec.attempt <= exec.max_retries;
            at_once = failure.at_once;
            (
                ExecutionStatus::Failed,
                AttemptResult {
                    agent_execution_id: used.as_ref().map(|u| u.id).or(agent_id),
                    outcome: failure.outcome,
                    result: None,
                    prompt_tokens: used.as_ref().map_or(0, |u| u.tokens_used.prompt),
                    completion_tokens: used.as_ref().map_or(0, |u| u.tokens_used.completion),
                    cost_usd: used.as_ref().map_or(0.0, |u| u.cost_usd),
                    error: Some(failure.error),
                },
                retry,
            )
        }
    };
    let log = serde_json::json!([{
        "attempt": exec.attempt,
        "agent_execution_id": attempt.agent_execution_id,
        "outcome": attempt.outcome,
        "error": attempt.error,
        "started_at": exec.attempt_started_at,
        "finished_at": now,
    }]);
    if retry {
        let run_after = if at_once {
            now
        } else {
            now + backoff(exec.retry_delay_seconds, exec.attempt)
        };
        executions::retry_later(&state.pool, exec.id, engine, &attempt, &log, run_after).await?;
        metrics::counter!("scheduler_runs_total", "outcome" => "retried").increment(1);
        return Ok(());
    }
    let mut tx = state.pool.begin().await?;
    let Some((tenant, schedule)) =
        executions::finish(&mut tx, exec.id, engine, status, &attempt, &log, now).await?
    else {
        return Ok(()); // the lease was lost: the new owner records the result
    };
    temponest_outbox::publish(
        &mut tx,
        tenant,
        catalogue::SCHEDULE_COMPLETED,
        &serde_json::json!({
            "schedule_id": schedule,
            "execution_id": exec.id,
            "status": status,
            "outcome": attempt.outcome,
            "agent_execution_id": attempt.agent_execution_id,
            "fire_time": exec.fire_time,
            "attempt": exec.attempt,
            "error": attempt.error,
        }),
    )
    .await?;
    // A buffered execution of the schedule may start now.
    crate::db::schedules::notify(&mut tx).await?;
    tx.commit().await?;
    metrics::counter!("scheduler_runs_total", "outcome" => attempt.outcome.as_str()).increment(1);
    Ok(())
}

/// Delay before retry `attempt + 1`: `base · 2^(attempt-1)`, at most 6 h, ±10 % jitter (a
/// retry stays recognisably on its documented schedule).
pub fn backoff(base_secs: i32, attempt: i32) -> chrono::Duration {
    let retry = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    let delay = temponest_retry::Backoff::new(
        std::time::Duration::from_secs(base_secs.max(1) as u64),
        std::time::Duration::from_secs(6 * 3600),
        temponest_retry::Jitter::Proportional(0.1),
    )
    .delay(retry);
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(6))
}

/// Rescues executions whose engine stopped heartbeating or that outlived their timeout;
/// those out of attempts are failed (`abandoned`) with their `schedule.completed` event.
pub async fn rescue(state: &AppState, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let grace = state.config.scheduler.lease_secs as f64;
    let mut tx = state.pool.begin().await?;
    let (count, abandoned) = executions::rescue(&mut tx, now, grace, 500).await?;
    let events: Vec<(Uuid, &str, serde_json::Value)> = abandoned
        .iter()
        .map(|a| {
            (
                a.tenant_id,
                catalogue::SCHEDULE_COMPLETED,
                serde_json::json!({
                    "schedule_id": a.schedule_id,
                    "execution_id": a.id,
                    "status": ExecutionStatus::Failed,
                    "outcome": ExecutionOutcome::Abandoned,
                    "agent_execution_id": a.agent_execution_id,
                    "fire_time": a.fire_time,
                }),
            )
        })
        .collect();
    temponest_outbox::publish_many(&mut tx, &events).await?;
    if count > 0 {
        crate::db::schedules::notify(&mut tx).await?;
    }
    tx.commit().await?;
    if count > 0 {
        tracing::warn!(
            count,
            abandoned = abandoned.len(),
            "rescued executions of a stopped engine"
        );
        metrics::counter!("scheduler_rescued_total").increment(count);
        metrics::counter!("scheduler_runs_total", "outcome" => "abandoned")
            .increment(abandoned.len() as u64);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_with(outcome: &str) -> Failure {
        let done: AgentExecution = serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "status": "failed", "outcome": outcome, "response": null,
            "tokens_used": {"prompt": 1, "completion": 2, "total": 3}, "cost_usd": 0.0,
            "error": "it went wrong",
        }))
        .expect("a finished execution reads whatever its outcome");
        match classify(done) {
            Ended::Failed(failure, Some(_)) => failure,
            _ => panic!("a failed execution is a failed run"),
        }
    }

    #[test]
    fn a_failed_agent_execution_is_retried_as_its_outcome_says() {
        // (outcome, run outcome, retried, at once)
        let cases = [
            ("failed", ExecutionOutcome::Failed, true, false),
            ("max_iterations", ExecutionOutcome::Failed, true, false),
            ("timed_out", ExecutionOutcome::TimedOut, true, false),
            ("cancelled", ExecutionOutcome::Failed, false, false),
            (
                "budget_exceeded",
                ExecutionOutcome::BudgetExceeded,
                false,
                false,
            ),
            ("abandoned", ExecutionOutcome::Failed, true, true),
            ("interrupted", ExecutionOutcome::Failed, true, true),
            // A name a newer agents service may send: failed, by its status.
            (
                "rate_limited_upstream",
                ExecutionOutcome::Failed,
                true,
                false,
            ),
        ];
        for (name, outcome, retryable, at_once) in cases {
            let failure = failed_with(name);
            assert_eq!(
                (failure.outcome, failure.retryable, failure.at_once),
                (outcome, retryable, at_once),
                "{name}"
            );
            assert_eq!(
                failure.error,
                format!("agent execution {} {name}: it went wrong", Uuid::nil())
            );
        }
    }
}
