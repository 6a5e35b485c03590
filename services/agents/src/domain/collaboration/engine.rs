//! The sessions this process drives, and the engine that keeps sessions moving across
//! restarts.
//!
//! - A session is driven by one process, its `owner_id`. [`Sessions::launch`] drives one in a
//!   task of its own (it finishes even if the client that started it goes away).
//! - **Shutdown** ([`Sessions::stop`]): no new step starts, the running steps' executions are
//!   interrupted (recorded as `interrupted`, with what they used) and each session is
//!   released (`owner_id` cleared) while it stays `running`.
//! - **Resume**: the engine claims free unfinished sessions at start-up and then every
//!   liveness interval (`FOR UPDATE SKIP LOCKED`, so one process takes each). Sessions of a
//!   process that died without shutting down are freed by the dead-instance reaper
//!   ([`lifecycle`](crate::domain::lifecycle)). A resumed session runs its pattern again from
//!   the start, but every step whose key had finished returns its stored output instead of
//!   running (steps are matched by key, never by position): only unfinished steps run again,
//!   as new attempts; an attempt left unfinished by a dead process is cancelled first.
//!   So a session is never stuck in `running`: it is resumed, or it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::flows::{self, Finish};
use super::steps::{Halt, SessionRun};
use super::{SessionOutcome, SessionRequest, events};
use crate::db::executions;
use crate::db::{agents, collaboration};
use crate::domain::execution::events::{self as execution_events, ExecutionEvent};
use crate::state::AppState;

/// Sessions driven by this process; cheap to clone.
#[derive(Clone, Default)]
pub struct Sessions {
    live: Arc<Mutex<HashMap<Uuid, Arc<Live>>>>,
    stopping: Arc<AtomicBool>,
    emptied: Arc<Notify>,
}

/// One session driven here: its cancellation and its progress (for waiters and streams).
pub struct Live {
    pub tenant_id: Uuid,
    pub cancel: CancellationToken,
    /// A counter bumped at every step start and end; `true` once the session is done here.
    progress: watch::Sender<(u64, bool)>,
}

impl Live {
    /// Something changed (a step started or ended).
    pub fn touch(&self) {
        self.progress.send_modify(|(n, _)| *n += 1);
    }

    fn finish(&self) {
        self.progress.send_modify(|(n, done)| {
            *n += 1;
            *done = true;
        });
    }

    /// Changes whenever something happens.
    pub fn subscribe(&self) -> watch::Receiver<(u64, bool)> {
        self.progress.subscribe()
    }

    /// Resolves when this process is done with the session.
    pub async fn done(&self) {
        let mut progress = self.subscribe();
        let _ = progress.wait_for(|(_, done)| *done).await;
    }
}

impl Sessions {
    /// Drives session `id` in a task of its own.
    pub fn launch(&self, state: &AppState, id: Uuid, tenant_id: Uuid) -> Arc<Live> {
        let (progress, _) = watch::channel((0, false));
        let live = Arc::new(Live {
            tenant_id,
            cancel: CancellationToken::new(),
            progress,
        });
        self.lock().insert(id, live.clone());
        metrics::gauge!("collaboration_sessions_in_flight").increment(1.0);
        let state = state.clone();
        let driven = live.clone();
        tokio::spawn(async move {
            let result = drive(&state, id, &driven).await;
            conclude(&state, tenant_id, id, result).await;
            driven.finish();
            state.sessions.remove(id);
        });
        live
    }

    /// The session `id` if this process drives it.
    pub fn get(&self, id: Uuid) -> Option<Arc<Live>> {
        self.lock().get(&id).cloned()
    }

    /// Whether this process is shutting down (no new step starts).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn remove(&self, id: Uuid) {
        let mut live = self.lock();
        if live.remove(&id).is_some() {
            metrics::gauge!("collaboration_sessions_in_flight").decrement(1.0);
        }
        if live.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Shutdown: stops new steps, interrupts the running executions and waits up to `wait`
    /// for every session to be released. Returns how many were still here.
    pub async fn stop(&self, state: &AppState, wait: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        state.runs.interrupt_all(wait).await;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let emptied = self.emptied.notified();
            let left = self.lock().len();
            if left == 0 || tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return self.lock().len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Claims free unfinished sessions (at once, then every liveness interval) until `stop`.
pub async fn resume_free_sessions(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(state.config.liveness.every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        if state.sessions.stopping() {
            return;
        }
        match collaboration::claim_free(&state.pool, state.instance_id, 50).await {
            Ok(claimed) => {
                for (id, tenant_id) in claimed {
                    tracing::info!(session_id = %id, "resuming a collaboration session");
                    state.sessions.launch(&state, id, tenant_id);
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not claim collaboration sessions"),
        }
    }
}

/// Runs session `id` to its end (or to a stop); `Ok(None)` when it had already finished.
async fn drive(state: &AppState, id: Uuid, live: &Arc<Live>) -> Result<Option<Finish>, Halt> {
    let Some(row) = collaboration::mark_running(&state.pool, live.tenant_id, id).await? else {
        return Ok(None);
    };
    let request: SessionRequest =
        serde_json::from_value(row.request.clone()).map_err(|e| Halt::Failed {
            outcome: SessionOutcome::Failed,
            error: format!("the session's stored request cannot be read: {e}"),
        })?;
    let agents = agents::live_among(&state.pool, row.tenant_id, &row.agent_ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let steps = collaboration::steps_of(&state.pool, row.tenant_id, &[id]).await?;
    supersede_unfinished(state, row.tenant_id, &steps).await?;
    let project_id = request
        .context
        .get("project_id")
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.chars().count() <= 200)
        .map(str::to_owned);
    let session = SessionRun {
        state: state.clone(),
        id,
        tenant_id: row.tenant_id,
        created_by: row.created_by,
        context: request.context.clone(),
        project_id,
        agents,
        finished: Mutex::new(SessionRun::finished_outputs(&steps)),
        live: live.clone(),
    };
    live.touch();
    tokio::select! {
        finish = flows::run(&session, &request.plan) => finish.map(Some),
        () = live.cancel.cancelled() => Err(Halt::Cancelled),
    }
}

/// Cancels step attempts a dead process left unfinished: they are attempted again.
async fn supersede_unfinished(
    state: &AppState,
    tenant_id: Uuid,
    steps: &[crate::db::collaboration::StepRow],
) -> sqlx::Result<()> {
    for step in steps.iter().filter(|s| !s.status.is_finished()) {
        let mut tx = state.pool.begin().await?;
        let reason = "superseded: the collaboration session was resumed by another process";
        if let Some(row) = executions::cancel(&mut tx, tenant_id, step.execution_id, reason).await?
        {
            execution_events::publish(&mut tx, ExecutionEvent::Failed, &row).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Records how the session ended (with its event), or releases it for a resume.
async fn conclude(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    result: Result<Option<Finish>, Halt>,
) {
    let (outcome, error, output) = match result {
        Ok(None) => return,
        Ok(Some(finish)) => (finish.outcome, None, finish.final_output),
        Err(Halt::Interrupted) => {
            if let Err(err) =
                collaboration::release(&state.pool, tenant_id, id, state.instance_id).await
            {
                tracing::warn!(error = %err, session_id = %id, "could not release a collaboration session; the dead-instance reaper will");
            }
            return;
        }
        Err(Halt::Cancelled) => (
            SessionOutcome::Cancelled,
            Some("a step's execution was cancelled".to_owned()),
            None,
        ),
        Err(Halt::Failed { outcome, error }) => (outcome, Some(error), None),
        Err(Halt::Database(err)) => {
            tracing::error!(error = %err, session_id = %id, "a collaboration session failed on a database error");
            (
                SessionOutcome::Failed,
                Some("the session stopped on an internal error; run it again".to_owned()),
                None,
            )
        }
    };
    if let Err(err) = finish(
        state,
        tenant_id,
        id,
        outcome,
        error.as_deref(),
        output.as_deref(),
    )
    .await
    {
        tracing::error!(error = %err, session_id = %id, "could not record the end of a collaboration session");
    }
}

async fn finish(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    outcome: SessionOutcome,
    error: Option<&str>,
    output: Option<&str>,
) -> sqlx::Result<()> {
    let mut tx = state.pool.begin().await?;
    let Some(row) = collaboration::finish(&mut tx, tenant_id, id, outcome, error, output).await?
    else {
        // Cancelled meanwhile: the cancellation recorded the end and its event.
        return Ok(());
    };
    let steps = collaboration::steps_of(&state.pool, row.tenant_id, &[id]).await?;
    events::publish_end(&mut tx, &row, steps).await?;
    tx.commit().await?;
    metrics::counter!("collaboration_sessions_total", "pattern" => row.pattern.as_str(), "outcome" => outcome.as_str())
        .increment(1);
    Ok(())
}
