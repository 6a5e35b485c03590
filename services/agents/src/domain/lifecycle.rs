//! Background work that keeps execution state true across processes: the heartbeat of this
//! process's executions, the failing of executions whose process died (outcome `abandoned`),
//! the listener that delivers cancellations made on another replica, and the cost-record
//! [retention](super::cost_retention) purge.
//!
//! A process's death is found two ways. This process is an `agents`
//! [instance](temponest_db::instances) under its `instance_id` (the `owner_id` of the
//! executions it runs): a survivor fails a dead instance's executions within seconds of its
//! death being visible — at once after `kill -9`, when its lock goes. The per-execution
//! heartbeat sweep (`abandon_after_secs`) stays as the fallback for executions whose owner
//! is not registered.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgConnection;
use sqlx::postgres::PgListener;
use temponest_db::instances::{self, Reaper};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::budgets;
use crate::db::executions::{self, CANCEL_CHANNEL, ExecutionRow};
use crate::domain::execution::ExecutionOutcome;
use crate::domain::execution::events::{self, ExecutionEvent};
use crate::state::AppState;

/// Starts the heartbeat, the abandoned-execution sweep, the cancellation listener, the
/// execution feed's listener and the cost-record purge.
pub fn spawn(state: &AppState) {
    let heartbeat = Duration::from_secs(state.config.executions.heartbeat_secs);
    every(heartbeat, state.clone(), |beat| async move {
        let ids = beat.runs.ids();
        if !ids.is_empty()
            && let Err(err) = executions::heartbeat(&beat.pool, &ids).await
        {
            tracing::warn!(error = %err, "could not record the executions' heartbeat");
        }
    });
    every(heartbeat, state.clone(), |sweep| async move {
        if let Err(err) = fail_abandoned(&sweep).await {
            tracing::warn!(error = %err, "could not sweep abandoned executions");
        }
    });
    tokio::spawn(instances::live(
        state.pool.clone(),
        state.instance_id,
        state.config.liveness,
        DeadProcesses,
        // The instance lives as long as the process: its lock goes with the process.
        CancellationToken::new(),
    ));
    let listen = state.clone();
    tokio::spawn(async move { listen_for_cancellations(listen).await });
    tokio::spawn(state.feed.clone().listen(state.pool.clone()));
    crate::domain::cost_retention::spawn(
        state.pool.clone(),
        state.config.executions.cost_retention_days,
    );
}

/// Runs `work` on the state every `period` (a late tick delays the next rather than bursting),
/// from now on for as long as the process lives.
fn every<W, F>(period: Duration, state: AppState, work: W)
where
    W: Fn(AppState) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            work(state.clone()).await;
        }
    });
}

/// Fails every unfinished execution whose heartbeat stopped, with its outbox event; returns
/// how many.
pub async fn fail_abandoned(state: &AppState) -> sqlx::Result<usize> {
    let cutoff =
        Utc::now() - chrono::Duration::seconds(state.config.executions.abandon_after_secs as i64);
    let mut total = 0;
    loop {
        let mut tx = state.pool.begin().await?;
        let rows = executions::fail_abandoned(&mut tx, cutoff, 100).await?;
        publish_abandoned(&mut tx, &rows).await?;
        tx.commit().await?;
        total += rows.len();
        if rows.len() < 100 {
            return Ok(total);
        }
    }
}

/// Publishes `agent.execution.failed` for executions failed as abandoned (in the caller's
/// transaction), releases the budget reservations their calls still held, and counts them.
async fn publish_abandoned(conn: &mut PgConnection, rows: &[ExecutionRow]) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    budgets::release_of_executions(&mut *conn, &ids).await?;
    for row in rows {
        events::publish(&mut *conn, ExecutionEvent::Failed, row).await?;
    }
    if !rows.is_empty() {
        tracing::warn!(
            count = rows.len(),
            "failed executions abandoned by a stopped process"
        );
        metrics::counter!("agent_executions_total", "provider" => "any", "outcome" => ExecutionOutcome::Abandoned.as_str())
            .increment(rows.len() as u64);
    }
    Ok(())
}

/// Fails the unfinished executions of dead `agents` instances.
struct DeadProcesses;

impl Reaper for DeadProcesses {
    fn role(&self) -> &'static str {
        "agents"
    }

    async fn release(&self, conn: &mut PgConnection, dead: &[Uuid]) -> sqlx::Result<u64> {
        let rows = executions::fail_owned_by(conn, dead).await?;
        publish_abandoned(conn, &rows).await?;
        // Their collaboration sessions are freed for a survivor to resume.
        crate::db::collaboration::release_owned_by(conn, dead).await?;
        Ok(rows.len() as u64)
    }
}

/// Cancels local runs named by notifications from any process; reconnects after errors;
/// stops (closing its detached listening connection) when the pool is closed.
async fn listen_for_cancellations(state: AppState) {
    let mut delay = Duration::from_millis(200);
    while !state.pool.is_closed() {
        match PgListener::connect_with(&state.pool).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen(CANCEL_CHANNEL).await {
                    tracing::warn!(error = %err, "could not listen for cancellations");
                } else {
                    delay = Duration::from_millis(200);
                    loop {
                        let note = tokio::select! {
                            () = state.pool.close_event() => return,
                            note = listener.recv() => note,
                        };
                        match note {
                            Ok(note) => {
                                if let Ok(id) = Uuid::parse_str(note.payload())
                                    && let Some(run) = state.runs.get(id)
                                {
                                    run.cancel.cancel();
                                }
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "cancellation listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not listen for cancellations"),
        }
        tokio::select! {
            () = state.pool.close_event() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
