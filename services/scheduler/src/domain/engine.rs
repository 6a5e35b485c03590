//! The engine: one loop per process that fires due schedules, starts queued executions,
//! renews leases and rescues executions of stopped engines. It sleeps exactly until the next
//! due time (or the poll interval, whichever is sooner) and wakes at once on `NOTIFY`
//! (a schedule created or changed, an execution queued or finished anywhere) and when one of
//! its runs ends. Any number of engines may share a database.
//!
//! Each engine is a `scheduler` [instance](temponest_db::instances) under its own id (the
//! `leased_by` of its runs): at start-up and every liveness tick it returns the runs of dead
//! engines to the queue at once — the next claim adopts their agent executions — instead of
//! waiting `lease_secs` for the rescuer, which stays as the fallback.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use temponest_db::EngineHandle;
use temponest_db::instances::{self, Reaper};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{self, executions, schedules};
use crate::domain::firing;
use crate::domain::runner::{self, Runner};
use crate::state::AppState;

/// The running engine; its `shutdown` stops firing and claiming, lets running executions
/// finish for up to `shutdown_grace_secs`, then returns the rest to the queue (the next
/// engine adopts their agent executions) and returns (dropping it stops it without waiting).
/// Its id is the `leased_by` of the executions it runs.
pub type Engine = EngineHandle;

/// Starts the engine (the service starts it unless `scheduler.run_engine` is off:
/// [`crate::service`]).
pub fn start(state: AppState) -> Engine {
    let id = Uuid::now_v7();
    let cancel = CancellationToken::new();
    let task = {
        tracing::info!(engine = %id, "scheduler engine started");
        // Registered until the engine has released its runs at shutdown, not just until it
        // stops firing: a crash during the grace period must still be recognised.
        let registered = CancellationToken::new();
        tokio::spawn(instances::live(
            state.pool.clone(),
            id,
            state.config.liveness,
            DeadEngines(state.clone()),
            registered.clone(),
        ));
        let cancel = cancel.clone();
        tokio::spawn(async move {
            run(state, id, cancel).await;
            registered.cancel();
        })
    };
    EngineHandle::new(id, cancel, vec![task])
}

async fn run(state: AppState, id: Uuid, cancel: CancellationToken) {
    let config = state.config.scheduler.clone();
    let nudge = Arc::new(Notify::new());
    let listener = tokio::spawn(temponest_db::listen(
        state.pool.clone(),
        db::NOTIFY_CHANNEL,
        nudge.clone(),
        cancel.clone(),
    ));
    let runner = Runner::new(state.clone(), id);
    let poll = Duration::from_millis(config.poll_interval_ms);
    let housekeeping_every = chrono::Duration::seconds(config.heartbeat_secs as i64);
    let mut next_housekeeping = state.clock.now();
    let mut next_purge = state.clock.now();
    let mut errors = 0u32;
    // Before the first firing round: the runs of a predecessor that died must not count as
    // running (the overlap policy would skip fire times for them) nor wait for their leases.
    if let Err(err) = instances::reap(
        &state.pool,
        id,
        state.config.liveness,
        &DeadEngines(state.clone()),
    )
    .await
    {
        tracing::warn!(error = %err, "could not look for dead engines at start-up");
    }
    while !cancel.is_cancelled() {
        let now = state.clock.now();
        let result = async {
            firing::fire_due(&state, now).await?;
            // Claimed at the real time, so `started_at` (and the lateness metric) include
            // the firing round itself.
            runner.claim_and_start(state.clock.now()).await?;
            if now >= next_housekeeping {
                runner.heartbeat(now).await?;
                runner::rescue(&state, now).await?;
                let depth = executions::queue_depth(&state.pool, now).await?;
                metrics::gauge!("scheduler_queue_depth").set(depth as f64);
                next_housekeeping = now + housekeeping_every;
            }
            if config.retention_days > 0 && now >= next_purge {
                let more = purge(&state, now, config.retention_days).await?;
                // Stopped at the batch cap: more to delete, continue at the next round.
                next_purge = if more {
                    now
                } else {
                    now + chrono::Duration::hours(1)
                };
            }
            schedules::next_wake(&state.pool).await
        }
        .await;
        let wait = match result {
            Ok(wake) => {
                errors = 0;
                wait_for(
                    wake,
                    next_housekeeping,
                    state.clock.now(),
                    poll,
                    runner.is_full(),
                )
            }
            Err(err) => {
                errors += 1;
                tracing::warn!(error = %err, "scheduler engine round failed");
                Duration::from_millis(200 * 2u64.pow(errors.min(6)))
            }
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = nudge.notified() => {}
            () = runner.finished.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    listener.abort();
    shutdown(&state, id, &runner).await;
}

/// How long to sleep: until the next due time, the next housekeeping, or the poll interval.
/// Work that is due but could not start (every run slot taken) waits for a slot instead.
/// One retention run: finished executions and skipped/missed fire times older than
/// `retention_days`, in batches ([`temponest_db::retention`]). True if a table has more.
async fn purge(state: &AppState, now: DateTime<Utc>, retention_days: u32) -> sqlx::Result<bool> {
    use temponest_db::retention::purge;
    let before = now - chrono::Duration::days(i64::from(retention_days));
    let pool = &state.pool;
    let finished = purge("scheduler.executions", |n| {
        executions::purge_finished(pool, before, n)
    })
    .await?;
    let fires = purge("scheduler.skipped_fires", |n| {
        executions::purge_skipped_fires(pool, before, n)
    })
    .await?;
    Ok(finished.more || fires.more)
}

fn wait_for(
    wake: Option<DateTime<Utc>>,
    housekeeping: DateTime<Utc>,
    now: DateTime<Utc>,
    poll: Duration,
    full: bool,
) -> Duration {
    let until = |at: DateTime<Utc>| (at - now).to_std().unwrap_or(Duration::ZERO);
    let mut wait = poll.min(until(housekeeping));
    match wake {
        Some(at) if at > now => wait = wait.min(until(at)),
        // Due already but not taken (a claim raced with another engine or an API change):
        // look again shortly. When every slot is busy, a finishing run wakes the loop.
        Some(_) if !full => wait = wait.min(Duration::from_millis(20)),
        _ => {}
    }
    wait
}

async fn shutdown(state: &AppState, id: Uuid, runner: &Runner) {
    let grace = Duration::from_secs(state.config.scheduler.shutdown_grace_secs);
    if runner.in_flight() > 0 {
        tracing::info!(
            running = runner.in_flight(),
            "waiting for running executions"
        );
    }
    if tokio::time::timeout(grace, runner.wait_idle())
        .await
        .is_err()
    {
        runner.abort_all();
    }
    let released = async {
        let mut conn = state.pool.acquire().await?;
        executions::release(&mut conn, &[id], state.clock.now()).await
    };
    match released.await {
        Ok(0) => {}
        Ok(released) => {
            tracing::warn!(
                released,
                "released running executions to the queue at shutdown"
            );
            let _ = notify(&state.pool).await;
        }
        Err(err) => {
            tracing::error!(error = %err, "could not release executions; their leases will lapse and another engine rescues them");
        }
    }
    tracing::info!(engine = %id, "scheduler engine stopped");
}

async fn notify(pool: &PgPool) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    schedules::notify(&mut conn).await
}

/// Returns the runs of dead engines to the queue and wakes the engines.
struct DeadEngines(AppState);

impl Reaper for DeadEngines {
    fn role(&self) -> &'static str {
        "scheduler"
    }

    async fn release(&self, conn: &mut PgConnection, dead: &[Uuid]) -> sqlx::Result<u64> {
        let released = executions::release(conn, dead, self.0.clock.now()).await?;
        if released > 0 {
            schedules::notify(conn).await?;
            metrics::counter!("scheduler_rescued_total").increment(released);
        }
        Ok(released)
    }
}
