//! Firing: turns due schedules into queued executions, exactly once per fire time.
//!
//! Each round is one transaction: lock due schedules (`FOR UPDATE SKIP LOCKED`, so engines
//! share the work and never fire the same schedule concurrently), count their unfinished
//! executions, [plan](super::plan) each, insert the executions (the unique
//! (schedule, fire time) index turns any duplicate into a no-op), record skipped and missed
//! fire times, advance `next_run`, publish `schedule.triggered`, wake the runners, commit.

use chrono::{DateTime, Duration, Utc};
use temponest_outbox::catalogue;
use uuid::Uuid;

use crate::db::executions::{self, NewExecution};
use crate::db::fires::{self, Skipped};
use crate::db::schedules::{self, Advance, ScheduleRow};
use crate::domain::execution::{ExecutionTrigger, SkipReason};
use crate::domain::plan::{self, Inputs};
use crate::state::AppState;

/// What one call to [`fire_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    pub schedules: usize,
    pub queued: usize,
    pub skipped: usize,
    pub missed: i64,
}

/// Fires everything due at `now`, batch after batch until nothing due is left unclaimed.
pub async fn fire_due(state: &AppState, now: DateTime<Utc>) -> sqlx::Result<FireReport> {
    let mut total = FireReport::default();
    loop {
        let (report, full) = round(state, now).await?;
        total.schedules += report.schedules;
        total.queued += report.queued;
        total.skipped += report.skipped;
        total.missed += report.missed;
        if !full {
            return Ok(total);
        }
    }
}

/// One transaction; returns whether the batch was full (there may be more due).
async fn round(state: &AppState, now: DateTime<Utc>) -> sqlx::Result<(FireReport, bool)> {
    let batch = state.config.scheduler.batch_size;
    let mut tx = state.pool.begin().await?;
    let due = schedules::claim_due(&mut tx, now, batch).await?;
    if due.is_empty() {
        tx.rollback().await?;
        return Ok((FireReport::default(), false));
    }
    let ids: Vec<Uuid> = due.iter().map(|s| s.id).collect();
    let active = executions::active_counts(&mut tx, &ids).await?;
    let grace = Duration::seconds(state.config.scheduler.misfire_grace_secs as i64);

    let mut new = Vec::new();
    let mut skipped = Vec::new();
    let mut advances = Vec::new();
    let mut report = FireReport {
        schedules: due.len(),
        ..FireReport::default()
    };
    for schedule in &due {
        let (running, pending) = active
            .iter()
            .find(|(id, _, _)| *id == schedule.id)
            .map(|(_, r, p)| (*r, *p))
            .unwrap_or((0, 0));
        let planned = plan_for(schedule, now, grace, running, pending);
        for fire in &planned.run {
            new.push(new_execution(
                schedule,
                *fire,
                ExecutionTrigger::Schedule,
                now,
            ));
        }
        skipped.extend(planned.skipped.iter().map(|f| Skipped {
            schedule_id: schedule.id,
            tenant_id: schedule.tenant_id,
            fire_time: *f,
            reason: SkipReason::Overlap,
        }));
        skipped.extend(planned.missed.iter().map(|f| Skipped {
            schedule_id: schedule.id,
            tenant_id: schedule.tenant_id,
            fire_time: *f,
            reason: SkipReason::Missed,
        }));
        report.skipped += planned.skipped.len();
        report.missed += planned.missed_count;
        advances.push(Advance {
            id: schedule.id,
            next_run: planned.next_run,
            last_run: planned.run.last().copied(),
            ran: planned.run.len() as i64,
            skipped: planned.skipped.len() as i64,
            missed: planned.missed_count,
        });
    }
    let inserted = executions::insert_many(&mut tx, &new).await?;
    if inserted.len() != new.len() {
        // Only possible if a fire time was already queued (a schedule's next_run moved back
        // by an operator); the unique index kept it to one execution.
        tracing::warn!(
            planned = new.len(),
            inserted = inserted.len(),
            "some fire times already had an execution"
        );
    }
    fires::insert_skipped(&mut tx, &skipped, now).await?;
    schedules::advance(&mut tx, &advances).await?;
    let inserted_ids: std::collections::HashSet<Uuid> = inserted.iter().copied().collect();
    let events: Vec<(Uuid, &str, serde_json::Value)> = new
        .iter()
        .filter(|n| inserted_ids.contains(&n.id))
        .map(|n| {
            (
                n.tenant_id,
                catalogue::SCHEDULE_TRIGGERED,
                triggered_event(n),
            )
        })
        .collect();
    temponest_outbox::publish_many(&mut tx, &events).await?;
    if !inserted.is_empty() {
        schedules::notify(&mut tx).await?;
    }
    tx.commit().await?;

    report.queued = inserted.len();
    metrics::counter!("scheduler_fires_total", "result" => "queued")
        .increment(report.queued as u64);
    metrics::counter!("scheduler_fires_total", "result" => "skipped")
        .increment(report.skipped as u64);
    metrics::counter!("scheduler_fires_total", "result" => "missed")
        .increment(report.missed.max(0) as u64);
    Ok((report, due.len() as i64 >= batch))
}

/// Plans one schedule; a schedule whose timing no longer parses (it was valid when stored)
/// stops firing instead of failing the whole batch.
fn plan_for(
    schedule: &ScheduleRow,
    now: DateTime<Utc>,
    grace: Duration,
    running: i64,
    pending: i64,
) -> plan::Plan {
    let Some(next_run) = schedule.next_run else {
        return plan::Plan::default();
    };
    let policies = schedule
        .overlap()
        .and_then(|o| Ok((o, schedule.misfire()?)));
    let (overlap_policy, misfire_policy) = match policies {
        Ok(policies) => policies,
        Err(err) => {
            tracing::error!(schedule = %schedule.id, error = %err, "unusable schedule policy; it stops firing");
            return plan::Plan::default();
        }
    };
    let timing = match schedule.timing() {
        Ok(timing) => timing,
        Err(err) => {
            tracing::error!(schedule = %schedule.id, error = %err, "unusable schedule timing; it stops firing");
            return plan::Plan::default();
        }
    };
    match timing.trigger(schedule.anchor) {
        Ok(trigger) => plan::plan(
            &trigger,
            Inputs {
                next_run,
                now,
                misfire_policy,
                overlap_policy,
                catchup_window: Duration::seconds(i64::from(schedule.catchup_window_seconds)),
                grace,
                running,
                pending,
            },
        ),
        Err(err) => {
            tracing::error!(schedule = %schedule.id, error = %err, "unusable schedule timing; it stops firing");
            plan::Plan::default()
        }
    }
}

/// A queued execution of `schedule` for `fire_time`.
pub fn new_execution(
    schedule: &ScheduleRow,
    fire_time: DateTime<Utc>,
    trigger: ExecutionTrigger,
    now: DateTime<Utc>,
) -> NewExecution {
    NewExecution {
        id: Uuid::now_v7(),
        tenant_id: schedule.tenant_id,
        schedule_id: schedule.id,
        agent_id: schedule.agent_id,
        trigger,
        fire_time,
        max_retries: schedule.max_retries,
        retry_delay_seconds: schedule.retry_delay_seconds,
        timeout_seconds: schedule.timeout_seconds,
        overlap_policy: schedule.overlap_policy.clone(),
        task_config: schedule.task_config.clone(),
        run_after: now,
    }
}

/// The `schedule.triggered` event of a queued execution.
pub fn triggered_event(n: &NewExecution) -> serde_json::Value {
    serde_json::json!({
        "schedule_id": n.schedule_id,
        "execution_id": n.id,
        "agent_id": n.agent_id,
        "trigger": n.trigger,
        "fire_time": n.fire_time,
    })
}
