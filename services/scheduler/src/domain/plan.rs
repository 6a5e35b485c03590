//! What a due schedule does at one firing round — pure, so every policy is unit-tested:
//! which fire times run, which are skipped by the overlap policy, which were missed during
//! downtime, and the next fire time.
//!
//! - A fire time is **on time** when the engine sees it within `grace` of its due time (the
//!   normal case: the engine wakes at the due instant); it runs.
//! - Older fire times were **missed** (the scheduler was down). `misfire_policy` decides:
//!   `skip` runs none of them; `fire_once` runs the latest one (when no on-time fire time
//!   runs in its place) and records the others as missed; `fire_all` runs every one within
//!   the catch-up window. Missed fire times older than the window never run.
//! - Each fire time to run then passes the **overlap policy** against the schedule's
//!   unfinished executions: `allow` always runs; `skip` runs only when nothing is unfinished;
//!   `buffer_one` queues one execution behind a running one (and skips while one waits).

use chrono::{DateTime, Duration, Utc};
use temponest_cron::Trigger;

use super::policy::{MisfirePolicy, OverlapPolicy};

/// At most this many fire times are handled per schedule per round (a catch-up of more
/// continues in the next round, immediately).
pub const MAX_FIRES_PER_ROUND: usize = 1000;
/// Missed fire times recorded one by one per round (all are counted in `missed_count`).
pub const MAX_MISSED_RECORDED: usize = 100;

/// The outcome of one round for one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Fire times to run, in order.
    pub run: Vec<DateTime<Utc>>,
    /// Fire times skipped by the overlap policy.
    pub skipped: Vec<DateTime<Utc>>,
    /// Missed fire times to record (the latest [`MAX_MISSED_RECORDED`]).
    pub missed: Vec<DateTime<Utc>>,
    /// How many fire times were missed in all.
    pub missed_count: i64,
    /// The next fire time after this round (None: nothing left, e.g. a one-shot that fired).
    pub next_run: Option<DateTime<Utc>>,
}

/// A schedule's policies and state as the round sees them.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub next_run: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub misfire_policy: MisfirePolicy,
    pub overlap_policy: OverlapPolicy,
    pub catchup_window: Duration,
    pub grace: Duration,
    /// Unfinished executions of the schedule.
    pub running: i64,
    pub pending: i64,
}

/// Whether one more execution may be queued under `overlap_policy`.
pub fn admits(overlap_policy: OverlapPolicy, running: i64, pending: i64) -> bool {
    match overlap_policy {
        OverlapPolicy::Allow => true,
        OverlapPolicy::BufferOne => pending == 0,
        OverlapPolicy::Skip => running + pending == 0,
    }
}

/// Plans one round.
pub fn plan(trigger: &Trigger, input: Inputs) -> Plan {
    let mut due = vec![input.next_run];
    due.extend(trigger.fire_times(input.next_run, input.now, MAX_FIRES_PER_ROUND - 1));
    let last = *due.last().unwrap_or(&input.next_run);
    let next_run = trigger.next_after(last);
    // More due fire times than one round takes: this chunk is entirely older than them.
    let more_due = next_run.is_some_and(|n| n <= input.now);

    let late_cutoff = input.now - input.grace;
    let window_start = input.now - input.catchup_window.max(input.grace);
    let (late, on_time): (Vec<_>, Vec<_>) = due.into_iter().partition(|f| *f < late_cutoff);

    let mut candidates = Vec::new();
    let mut missed = Vec::new();
    match input.misfire_policy {
        MisfirePolicy::FireAll => {
            for f in late {
                if f >= window_start {
                    candidates.push(f);
                } else {
                    missed.push(f);
                }
            }
        }
        MisfirePolicy::FireOnce => {
            let latest = late.last().copied();
            let catch_up = latest.filter(|f| !more_due && on_time.is_empty() && *f >= window_start);
            for f in late {
                if Some(f) == catch_up {
                    candidates.push(f);
                } else {
                    missed.push(f);
                }
            }
        }
        MisfirePolicy::Skip => missed.extend(late),
    }
    candidates.extend(on_time);

    let (running, mut pending) = (input.running, input.pending);
    let mut plan = Plan {
        next_run,
        missed_count: missed.len() as i64,
        ..Plan::default()
    };
    for f in candidates {
        if admits(input.overlap_policy, running, pending) {
            plan.run.push(f);
            if input.overlap_policy != OverlapPolicy::Allow {
                pending += 1;
            }
        } else {
            plan.skipped.push(f);
        }
    }
    let keep_from = missed.len().saturating_sub(MAX_MISSED_RECORDED);
    plan.missed = missed.split_off(keep_from);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, s).unwrap()
    }

    fn inputs(next_run: DateTime<Utc>, now: DateTime<Utc>, misfire: MisfirePolicy) -> Inputs {
        Inputs {
            next_run,
            now,
            misfire_policy: misfire,
            overlap_policy: OverlapPolicy::Allow,
            catchup_window: Duration::hours(1),
            grace: Duration::seconds(60),
            running: 0,
            pending: 0,
        }
    }

    fn minutely() -> Trigger {
        Trigger::cron("* * * * *", "UTC").unwrap()
    }

    #[test]
    fn an_on_time_fire_runs_and_the_next_is_a_minute_later() {
        let p = plan(
            &minutely(),
            inputs(at(10, 0, 0), at(10, 0, 0), MisfirePolicy::Skip),
        );
        assert_eq!(p.run, vec![at(10, 0, 0)]);
        assert_eq!(p.next_run, Some(at(10, 1, 0)));
        assert!(p.missed.is_empty() && p.skipped.is_empty());
    }

    #[test]
    fn a_fire_seen_late_within_the_grace_still_runs() {
        let p = plan(
            &minutely(),
            inputs(at(10, 0, 0), at(10, 0, 50), MisfirePolicy::Skip),
        );
        assert_eq!(p.run, vec![at(10, 0, 0)]);
        assert_eq!(p.missed_count, 0);
    }

    #[test]
    fn skip_misfire_runs_nothing_missed_and_records_them() {
        // Down from 10:00 to 10:05:30: 10:00..10:04 missed (older than 60 s), 10:05 on time.
        let p = plan(
            &minutely(),
            inputs(at(10, 0, 0), at(10, 5, 30), MisfirePolicy::Skip),
        );
        assert_eq!(p.run, vec![at(10, 5, 0)]);
        assert_eq!(
            p.missed,
            vec![
                at(10, 0, 0),
                at(10, 1, 0),
                at(10, 2, 0),
                at(10, 3, 0),
                at(10, 4, 0)
            ]
        );
        assert_eq!(p.missed_count, 5);
        assert_eq!(p.next_run, Some(at(10, 6, 0)));
    }

    #[test]
    fn fire_once_runs_the_latest_missed_only_when_nothing_runs_on_time() {
        let hourly = Trigger::cron("0 * * * *", "UTC").unwrap();
        // Down 09:59 → 12:30: 10:00, 11:00, 12:00 missed; nothing on time.
        let p = plan(
            &hourly,
            Inputs {
                catchup_window: Duration::hours(3),
                ..inputs(at(10, 0, 0), at(12, 30, 0), MisfirePolicy::FireOnce)
            },
        );
        assert_eq!(p.run, vec![at(12, 0, 0)]);
        assert_eq!(p.missed, vec![at(10, 0, 0), at(11, 0, 0)]);
        assert_eq!(p.next_run, Some(at(13, 0, 0)));
        // With an on-time fire time, that one runs in place of the catch-up.
        let p = plan(
            &minutely(),
            inputs(at(10, 0, 0), at(10, 5, 10), MisfirePolicy::FireOnce),
        );
        assert_eq!(p.run, vec![at(10, 5, 0)]);
        assert_eq!(p.missed_count, 5);
    }

    #[test]
    fn fire_all_runs_the_missed_within_the_window_only() {
        let p = plan(
            &minutely(),
            Inputs {
                catchup_window: Duration::minutes(3),
                ..inputs(at(10, 0, 0), at(10, 5, 30), MisfirePolicy::FireAll)
            },
        );
        // Window starts at 10:02:30: 10:03 and 10:04 catch up, 10:05 is on time.
        assert_eq!(p.run, vec![at(10, 3, 0), at(10, 4, 0), at(10, 5, 0)]);
        assert_eq!(p.missed, vec![at(10, 0, 0), at(10, 1, 0), at(10, 2, 0)]);
    }

    #[test]
    fn overlap_skip_and_buffer_one() {
        let mut input = inputs(at(10, 0, 0), at(10, 0, 0), MisfirePolicy::Skip);
        input.overlap_policy = OverlapPolicy::Skip;
        input.running = 1;
        let p = plan(&minutely(), input);
        assert!(p.run.is_empty());
        assert_eq!(p.skipped, vec![at(10, 0, 0)]);

        input.overlap_policy = OverlapPolicy::BufferOne;
        let p = plan(&minutely(), input);
        assert_eq!(
            p.run,
            vec![at(10, 0, 0)],
            "one is buffered behind the running one"
        );
        input.pending = 1;
        let p = plan(&minutely(), input);
        assert_eq!(p.skipped, vec![at(10, 0, 0)], "the buffer holds one");

        input.overlap_policy = OverlapPolicy::Allow;
        let p = plan(&minutely(), input);
        assert_eq!(p.run, vec![at(10, 0, 0)]);
    }

    #[test]
    fn overlap_applies_within_a_catch_up() {
        let mut input = inputs(at(10, 0, 0), at(10, 5, 30), MisfirePolicy::FireAll);
        input.overlap_policy = OverlapPolicy::Skip;
        let p = plan(&minutely(), input);
        assert_eq!(p.run, vec![at(10, 0, 0)]);
        assert_eq!(p.skipped.len(), 5);
    }

    #[test]
    fn a_one_shot_fires_once_and_has_no_next_run() {
        let once = Trigger::once(at(10, 0, 0));
        let p = plan(
            &once,
            inputs(at(10, 0, 0), at(10, 0, 1), MisfirePolicy::Skip),
        );
        assert_eq!(p.run, vec![at(10, 0, 0)]);
        assert_eq!(p.next_run, None);
    }

    #[test]
    fn a_long_catch_up_is_taken_in_rounds() {
        let every_second = Trigger::cron("* * * * * *", "UTC").unwrap();
        let p = plan(
            &every_second,
            inputs(at(10, 0, 0), at(11, 0, 0), MisfirePolicy::Skip),
        );
        assert_eq!(p.missed_count, MAX_FIRES_PER_ROUND as i64);
        assert_eq!(p.missed.len(), MAX_MISSED_RECORDED);
        // The next round continues right after this chunk (still due).
        assert_eq!(p.next_run, Some(at(10, 16, 40)));
    }
}
