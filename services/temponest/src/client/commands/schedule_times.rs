//! When a schedule fires next, computed on the client for `schedules next`: a pure function
//! of the schedule and the current time (unit-tested here without a platform).

use chrono::{DateTime, Utc};
use temponest_scheduler::models::ScheduleOut;

use crate::client::error::CliError;

/// The next `count` fire times after `now`: computed from the cron expression in the
/// schedule's zone (the same rules as the scheduler, `temponest-cron`), or stepped from the
/// server's `next_run` for an interval, or the one-shot time.
pub fn next_runs(
    s: &ScheduleOut,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Utc>>, CliError> {
    let trigger = match (&s.cron_expression, s.interval_seconds, s.run_at) {
        (Some(cron), _, _) => temponest_cron::Trigger::cron(cron, &s.timezone)
            .map_err(|e| CliError::Failed(format!("the schedule's cron cannot be read: {e}")))?,
        (None, Some(secs), _) => {
            let anchor = s.next_run.unwrap_or(now);
            temponest_cron::Trigger::interval(secs.unsigned_abs(), anchor).map_err(|e| {
                CliError::Failed(format!("the schedule's interval cannot be read: {e}"))
            })?
        }
        (None, None, Some(at)) => return Ok(if at > now { vec![at] } else { vec![] }),
        _ => return Ok(Vec::new()),
    };
    let mut times = Vec::with_capacity(count);
    // From the server's next run when it is still ahead (it may be a catch-up fire).
    let mut after = s
        .next_run
        .filter(|n| *n > now)
        .map_or(now, |n| n - chrono::Duration::seconds(1));
    while times.len() < count {
        let Some(next) = trigger.next_after(after) else {
            break;
        };
        times.push(next);
        after = next;
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn schedule(kind: &str, timing: Value, next_run: &str) -> ScheduleOut {
        let mut body = json!({
            "id": "01a24381-7ca6-7263-a9dc-f95c1b90ec7a", "tenant_id": "01a24381-7ca6-7263-a9dc-f95c1b90ec7b",
            "agent_id": "01a24381-7ca6-7263-a9dc-f95c1b90ec7c", "name": "s", "schedule_type": kind,
            "cron_expression": null, "interval_seconds": null, "run_at": null, "timezone": "Europe/Paris",
            "task_config": {"user_message": "x"}, "is_active": true, "overlap_policy": "skip",
            "misfire_policy": "fire_once", "catchup_window_seconds": 3600, "max_retries": 0,
            "retry_delay_seconds": 60, "timeout_seconds": 300, "last_run": null, "next_run": next_run,
            "run_count": 0, "skipped_count": 0, "missed_count": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        });
        body.as_object_mut()
            .unwrap()
            .extend(timing.as_object().unwrap().clone());
        serde_json::from_value(body).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cron_times_are_in_the_schedules_zone_across_a_dst_change() {
        // Paris leaves summer time on 2026-10-25: 09:00 is 07:00 UTC before, 08:00 after.
        let s = schedule(
            "cron",
            json!({"cron_expression": "0 9 * * *"}),
            "2026-10-24T07:00:00Z",
        );
        let times = next_runs(&s, at("2026-10-24T06:00:00Z"), 3).unwrap();
        assert_eq!(
            times,
            [
                at("2026-10-24T07:00:00Z"),
                at("2026-10-25T08:00:00Z"),
                at("2026-10-26T08:00:00Z")
            ]
        );
    }

    #[test]
    fn intervals_step_from_the_next_run_and_a_past_one_shot_has_none() {
        let s = schedule(
            "interval",
            json!({"interval_seconds": 3600}),
            "2026-03-01T10:30:00Z",
        );
        let times = next_runs(&s, at("2026-03-01T10:00:00Z"), 3).unwrap();
        assert_eq!(
            times,
            [
                at("2026-03-01T10:30:00Z"),
                at("2026-03-01T11:30:00Z"),
                at("2026-03-01T12:30:00Z")
            ]
        );
        let once = schedule(
            "once",
            json!({"run_at": "2026-03-01T09:00:00Z"}),
            "2026-03-01T09:00:00Z",
        );
        assert!(
            next_runs(&once, at("2026-03-01T10:00:00Z"), 3)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            next_runs(&once, at("2026-03-01T08:00:00Z"), 3).unwrap(),
            [at("2026-03-01T09:00:00Z")]
        );
    }
}
