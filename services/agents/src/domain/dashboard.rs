//! The arithmetic of the dashboard (`GET /dashboard/metrics`), apart from any I/O.
//!
//! Rules:
//! - The dashboard covers the last 24 UTC hours as hour buckets: the 23 full hours before
//!   the current one and the current, partial hour ([`period`]), so the spend per hour, the
//!   top agents and the execution figures all count the same rows.
//! - Executions count by when they were created. Every status is listed, with its count and
//!   its share of the period's executions as a fraction (0 when there were none).
//! - Durations are those of completed executions, from start to completion, in
//!   milliseconds: the mean and the continuous 95th percentile; absent without any.
//! - A scheduled run counts once finished (completed or failed); the success rate is the
//!   completed share of those, absent without any.

use chrono::{DateTime, Utc};

use crate::domain::cost_reports::{Bucket, Period};
use crate::domain::execution::ExecutionStatus;

/// Hour buckets the dashboard covers.
pub const HOURS: u32 = 24;

/// Entries in each top-agents list.
pub const TOP_AGENTS: i64 = 5;

/// The period the dashboard shows at `now`.
pub fn period(now: DateTime<Utc>) -> Period {
    Bucket::Hour.recent(HOURS, now)
}

/// Every execution status, in the order of an execution's life.
const STATUSES: [ExecutionStatus; 4] = [
    ExecutionStatus::Pending,
    ExecutionStatus::Running,
    ExecutionStatus::Completed,
    ExecutionStatus::Failed,
];

/// One status's executions and their share of all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusShare {
    pub status: ExecutionStatus,
    pub count: i64,
    /// A fraction in `[0, 1]`.
    pub fraction: f64,
}

/// The total of `counts` and every status's share of it (statuses absent from `counts` at 0).
pub fn status_distribution(counts: &[(ExecutionStatus, i64)]) -> (i64, Vec<StatusShare>) {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let shares = STATUSES
        .iter()
        .map(|&status| {
            let count = counts
                .iter()
                .filter(|(s, _)| *s == status)
                .map(|(_, n)| n)
                .sum();
            StatusShare {
                status,
                count,
                fraction: fraction(count, total),
            }
        })
        .collect();
    (total, shares)
}

fn fraction(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Run times of completed executions, in milliseconds (absent without any).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Durations {
    pub avg_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Finished runs of schedules and how many completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduledRuns {
    pub finished: i64,
    pub succeeded: i64,
}

impl ScheduledRuns {
    /// The completed share of finished runs; `None` without any.
    pub fn success_rate(self) -> Option<f64> {
        (self.finished > 0).then(|| fraction(self.succeeded, self.finished))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
    }

    #[test]
    fn the_period_is_the_current_hour_and_the_23_before_it() {
        let p = period(at("2026-12-04T10:15:30Z"));
        assert_eq!(p.start, at("2026-12-03T11:00:00Z"));
        assert_eq!(p.end, at("2026-12-04T10:15:30Z"));
    }

    #[test]
    fn every_status_is_listed_with_its_fraction_of_all() {
        let (total, shares) = status_distribution(&[
            (ExecutionStatus::Failed, 1),
            (ExecutionStatus::Completed, 3),
        ]);
        assert_eq!(total, 4);
        let listed: Vec<_> = shares
            .iter()
            .map(|s| (s.status, s.count, s.fraction))
            .collect();
        assert_eq!(
            listed,
            [
                (ExecutionStatus::Pending, 0, 0.0),
                (ExecutionStatus::Running, 0, 0.0),
                (ExecutionStatus::Completed, 3, 0.75),
                (ExecutionStatus::Failed, 1, 0.25),
            ]
        );
    }

    #[test]
    fn no_executions_give_zero_fractions_and_no_runs_no_success_rate() {
        let (total, shares) = status_distribution(&[]);
        assert_eq!(total, 0);
        assert!(shares.iter().all(|s| s.count == 0 && s.fraction == 0.0));
        assert_eq!(ScheduledRuns::default().success_rate(), None);
        let runs = ScheduledRuns {
            finished: 4,
            succeeded: 3,
        };
        assert_eq!(runs.success_rate(), Some(0.75));
    }
}
