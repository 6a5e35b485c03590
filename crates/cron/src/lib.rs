//! Fire times of a scheduler's schedules: cron expressions evaluated in an IANA time zone,
//! fixed intervals, and one-shot times.
//!
//! A [`Trigger`] answers one question: "when does this schedule fire next, strictly after
//! instant `t`?" ([`Trigger::next_after`]), plus a bounded listing ([`Trigger::fire_times`]).
//! All instants are UTC; cron fire times are whole seconds.
//!
//! # Cron expressions
//!
//! Five fields (`minute hour day-of-month month day-of-week`, seconds = 0), six fields
//! (`second minute hour day-of-month month day-of-week`) or one of the aliases `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` (case-insensitive).
//! Names (`MON`, `JAN`), ranges, steps, lists and the `L`, `W`, `#` extensions are accepted.
//! When both day-of-month and day-of-week are restricted a day matches if *either* matches
//! (POSIX/Vixie semantics). An expression that can never fire (`0 0 30 2 *`) is rejected.
//!
//! # Daylight-saving time
//!
//! The expression is matched against the wall clock of its time zone. Where the wall clock
//! is not one-to-one with real time the rules are:
//!
//! * **Skipped local times (spring forward).** A matching local time inside the gap fires
//!   once, at the first real instant after the gap. Several matches inside one gap collapse
//!   into that single fire time. Example: `30 2 * * *` in America/New_York on 2026-03-08
//!   fires at 03:00 EDT = 07:00 UTC.
//! * **Repeated local times (fall back).** A matching local time that occurs twice fires
//!   once, at its first occurrence. Example: `30 1 * * *` in America/New_York on 2026-11-01
//!   fires at 01:30 EDT = 05:30 UTC only, not again at 01:30 EST = 06:30 UTC.
//! * **Every-hour expressions** — those whose hour field is a plain `*` (`0 * * * *`,
//!   `*/15 * * * *`, `@hourly`, `*/10 * * * * *`) — follow elapsed time instead (Vixie cron's
//!   rule): they fire in both passes of a repeated hour, and local times inside a gap are
//!   simply skipped (no catch-up fire at the end of the gap). So `0 * * * *` fires every
//!   real hour and `*/15 * * * *` every 15 real minutes across both changes.
//!
//! # Intervals and one-shots
//!
//! [`Trigger::interval`] fires at `anchor + k * seconds` for integers `k >= 0`;
//! [`Trigger::once`] fires exactly once.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use temponest_cron::Trigger;
//!
//! let trigger = Trigger::cron("30 2 * * *", "America/New_York")?;
//! let after = Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap();
//! // 02:30 does not exist on 2026-03-08: it fires at 03:00 EDT instead.
//! assert_eq!(
//!     trigger.next_after(after),
//!     Some(Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap())
//! );
//! # Ok::<(), temponest_cron::TriggerError>(())
//! ```

mod cron;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::cron::CronSchedule;

/// The longest accepted interval: 366 days, in seconds.
const MAX_INTERVAL_SECONDS: u64 = 366 * 24 * 60 * 60;

/// A schedule that can say when it fires next.
#[derive(Debug, Clone)]
pub struct Trigger {
    kind: Kind,
}

/// The three kinds of schedule behind a [`Trigger`].
#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<CronSchedule>),
    Interval { seconds: i64, anchor: DateTime<Utc> },
    Once(DateTime<Utc>),
}

/// Why a schedule definition was rejected.
///
/// `field` names the offending input: `"cron_expression"`, `"timezone"`,
/// `"interval_seconds"` or `"run_at"` (the last is not produced by this crate, since
/// [`Trigger::once`] accepts any instant; it is reserved for callers validating one-shot times).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TriggerError {
    /// The input field the error is about.
    pub field: &'static str,
    /// A human-readable explanation: what is wrong and what is accepted.
    pub message: String,
}

impl TriggerError {
    /// Builds an error about `field`.
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> TriggerError {
        TriggerError {
            field,
            message: message.into(),
        }
    }
}

impl Trigger {
    /// A cron schedule evaluated in the IANA time zone `timezone`.
    ///
    /// `expression` is a 5-field (minute hour day-of-month month day-of-week; seconds = 0),
    /// 6-field (second minute hour day-of-month month day-of-week) expression or an alias
    /// (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`).
    /// See the crate documentation for the daylight-saving rules.
    ///
    /// # Errors
    /// `field: "cron_expression"` for an empty, malformed, out-of-range, 7-field,
    /// `@reboot` or never-firing expression; `field: "timezone"` for an unknown zone.
    pub fn cron(expression: &str, timezone: &str) -> Result<Trigger, TriggerError> {
        let tz = parse_timezone(timezone)?;
        let schedule = CronSchedule::parse(expression, tz)?;
        Ok(Trigger {
            kind: Kind::Cron(Box::new(schedule)),
        })
    }

    /// Every `seconds` seconds (1 second to 366 days), at `anchor + k * seconds` for `k >= 0`.
    ///
    /// # Errors
    /// `field: "interval_seconds"` when `seconds` is 0 or more than 366 days.
    pub fn interval(seconds: u64, anchor: DateTime<Utc>) -> Result<Trigger, TriggerError> {
        if !(1..=MAX_INTERVAL_SECONDS).contains(&seconds) {
            return Err(TriggerError::new(
                "interval_seconds",
                format!(
                    "interval of {seconds} seconds is out of range: expected 1 to \
                     {MAX_INTERVAL_SECONDS} seconds (366 days)"
                ),
            ));
        }
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX); // unreachable: range-checked above
        Ok(Trigger {
            kind: Kind::Interval { seconds, anchor },
        })
    }

    /// Fires exactly once, at `at`.
    pub fn once(at: DateTime<Utc>) -> Trigger {
        Trigger {
            kind: Kind::Once(at),
        }
    }

    /// The first fire time strictly after `after`.
    ///
    /// `None` when there is none: a one-shot at or before `after`, or a cron schedule
    /// whose next fire time lies beyond the year 5000 (or the representable range).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(schedule) => schedule.next_after(after),
            Kind::Interval { seconds, anchor } => next_interval(*seconds, *anchor, after),
            Kind::Once(at) => (*at > after).then_some(*at),
        }
    }

    /// The fire times strictly after `after` and at or before `until`, in order, at most
    /// `limit` of them. Only the returned fire times are computed.
    pub fn fire_times(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut times = Vec::new();
        let mut cursor = after;
        while times.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    times.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        times
    }
}

/// The smallest `anchor + k * seconds` (`k >= 0`) strictly after `after`.
fn next_interval(
    seconds: i64,
    anchor: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if anchor > after {
        return Some(anchor);
    }
    // `after - anchor` is non-negative, so whole seconds truncate down, and because the
    // step is a whole number of seconds the sub-second rest cannot reach the next step.
    let elapsed = (after - anchor).num_seconds();
    let steps = elapsed / seconds + 1;
    let offset = TimeDelta::try_seconds(steps.checked_mul(seconds)?)?;
    anchor.checked_add_signed(offset)
}

/// Parses an IANA time zone name such as `Europe/Berlin` or `UTC`.
///
/// # Errors
/// `field: "timezone"` naming the unknown zone.
pub fn parse_timezone(name: &str) -> Result<Tz, TriggerError> {
    name.parse::<Tz>().map_err(|_| {
        TriggerError::new(
            "timezone",
            format!("unknown time zone {name:?}: expected an IANA name, e.g. Europe/Berlin or UTC"),
        )
    })
}
