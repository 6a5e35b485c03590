//! Cron expressions in an IANA time zone: parsing, validation and the DST-aware search.
//!
//! croner does the calendar work on the *naive* wall clock (no time zone at all); this
//! module maps the matching wall-clock times to real instants with the rules described in
//! the crate documentation. croner's own time-zone handling is not used because it differs
//! from those rules (see [`CronSchedule::next_after`]).

use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use croner::Cron;
use croner::Weekday;
use croner::parser::{CronParser, Seconds, Year};

use crate::TriggerError;

/// What every cron error message ends with: the accepted forms.
const ACCEPTED: &str = "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with \
                        seconds first, or @hourly/@daily/@weekly/@monthly/@yearly";

/// Safety net for the wall-clock scan in [`CronSchedule::next_after`]; real searches need a
/// handful of steps.
const MAX_SCAN_STEPS: u32 = 100_000;

/// 0000-01-01T00:00:00Z: before any wall-clock time croner can match (its years start at 1)
/// in any UTC offset.
const SEARCH_START: i64 = -62_167_219_200;

/// 5001-01-01T00:00:00Z: past croner's last searchable year (5000) in any UTC offset.
const SEARCH_END: i64 = 95_649_120_000;

/// The never-fires check looks at every day of this many years from 2000-01-01: a full
/// 28-year cycle of the Gregorian calendar's weekday/leap-day pattern (plus one).
const VALIDATION_YEARS: i32 = 29;

/// A parsed cron expression bound to a time zone.
#[derive(Clone)]
pub(crate) struct CronSchedule {
    /// The expression as given, for `Debug`.
    expression: String,
    cron: Cron,
    tz: Tz,
    /// The hour field is a plain `*`: the schedule follows elapsed time across DST changes.
    every_hour: bool,
}

impl CronSchedule {
    /// Parses and validates `expression` for evaluation in `tz`.
    pub(crate) fn parse(expression: &str, tz: Tz) -> Result<CronSchedule, TriggerError> {
        let fields = expand(expression)?;
        let hour_field = if fields.len() == 5 {
            fields[1]
        } else {
            fields[2]
        };
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build();
        let cron = parser.parse(&fields.join(" ")).map_err(|e| {
            invalid(format!(
                "invalid cron expression {expression:?}: {e}; {ACCEPTED}"
            ))
        })?;
        if !fires_ever(&cron) {
            return Err(invalid(format!(
                "cron expression {expression:?} never fires: no date matches its day-of-month, \
                 month and day-of-week fields"
            )));
        }
        Ok(CronSchedule {
            expression: expression.to_owned(),
            cron,
            tz,
            every_hour: hour_field == "*",
        })
    }

    /// The first fire time strictly after `after` (see the crate docs for the DST rules).
    ///
    /// croner, left to its own time-zone handling, differs from those rules: it carries a
    /// gap-skipped time past the gap only for single-value second/minute/hour expressions
    /// (`0,30 2 * * *` does not fire at all on a spring-forward day) and fires twice in a
    /// repeated hour for any expression with a list, range or step in those fields
    /// (`0,30 1 * * *` fires four times at fall-back). So the search walks matching naive
    /// wall-clock times with croner and resolves each one in the zone here.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire times are whole seconds, so "after `after`" equals "after its whole second".
        // croner searches years 1 to 5000; clamping to that window also keeps the zone
        // conversions below away from chrono's representable limits.
        let seconds = after.timestamp();
        if seconds >= SEARCH_END {
            return None;
        }
        let after = DateTime::from_timestamp(seconds.max(SEARCH_START), 0)?;
        let local_after = after.with_timezone(&self.tz).naive_local();
        let mut scan_from = local_after;
        let mut second_pass = None;
        if let LocalResult::Ambiguous(earlier, later) = self.tz.from_local_datetime(&local_after) {
            let (earlier, later) = (earlier.to_utc(), later.to_utc());
            if after == earlier && self.every_hour {
                // `after` is in the first pass of a repeated range: the second pass, which
                // starts at the transition, still lies ahead for elapsed-time schedules.
                let transition = self.transition(earlier, later);
                let range_start = self.local(transition);
                second_pass = self.first_second_pass_fire(range_start, local_after);
            } else if after == later && !self.every_hour {
                // `after` is in the second pass: the rest of the repeated range fired on its
                // first pass already, so continue from the range's end.
                let transition = self.transition(earlier, later);
                scan_from = scan_from.max(self.local(transition - TimeDelta::seconds(1)));
            }
        }
        let scanned = self.scan(after, scan_from);
        match (scanned, second_pass) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The first fire time after `after`, walking matching wall-clock times after `from`.
    fn scan(&self, after: DateTime<Utc>, from: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut cursor = from;
        for _ in 0..MAX_SCAN_STEPS {
            let local = self.cron.find_next_occurrence(&cursor, false).ok()?;
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(at) if at > after => return Some(at.to_utc()),
                LocalResult::Ambiguous(earlier, _) if earlier > after => {
                    return Some(earlier.to_utc());
                }
                LocalResult::Ambiguous(_, later) if self.every_hour && later > after => {
                    return Some(later.to_utc());
                }
                LocalResult::None => {
                    let gap_end = self.gap_end(local);
                    if !self.every_hour && gap_end > after {
                        return Some(gap_end);
                    }
                    // Skip the rest of the gap in one step.
                    cursor = local.max(self.local(gap_end) - TimeDelta::seconds(1));
                    continue;
                }
                _ => {}
            }
            cursor = local;
        }
        None
    }

    /// For an elapsed-time schedule: the earliest second-pass fire of a repeated range that
    /// starts at local `range_start`, among local times up to `local_after`.
    fn first_second_pass_fire(
        &self,
        range_start: NaiveDateTime,
        local_after: NaiveDateTime,
    ) -> Option<DateTime<Utc>> {
        let local = self
            .cron
            .find_next_occurrence(&(range_start - TimeDelta::seconds(1)), false)
            .ok()?;
        if local > local_after {
            return None;
        }
        match self.tz.from_local_datetime(&local) {
            LocalResult::Ambiguous(_, later) => Some(later.to_utc()),
            _ => None,
        }
    }

    /// The wall-clock time of `at` in the schedule's zone.
    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.tz).naive_local()
    }

    /// The first instant in `(from, to]` whose UTC offset differs from `from`'s, given that
    /// exactly one offset change happens in that range.
    fn transition(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let offset = |at: DateTime<Utc>| self.tz.offset_from_utc_datetime(&at.naive_utc()).fix();
        let before = offset(from);
        let (mut low, mut high) = (from.timestamp(), to.timestamp());
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            match DateTime::from_timestamp(mid, 0) {
                Some(at) if offset(at) == before => low = mid,
                _ => high = mid,
            }
        }
        DateTime::from_timestamp(high, 0).unwrap_or(to)
    }

    /// The first real instant after the gap that skips the wall-clock time `local`.
    fn gap_end(&self, local: NaiveDateTime) -> DateTime<Utc> {
        // UTC offsets stay within ±24h, so the instant where the wall clock jumps over
        // `local` lies within a day of `local` read as UTC. Search for the first instant
        // whose wall clock is past `local` (never equal: `local` does not exist).
        let base = local.and_utc().timestamp();
        let (mut low, mut high) = (base - 25 * 3600, base + 25 * 3600);
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            match DateTime::from_timestamp(mid, 0) {
                Some(at) if self.local(at) < local => low = mid,
                _ => high = mid,
            }
        }
        DateTime::from_timestamp(high, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl fmt::Debug for CronSchedule {
    // croner's own `Debug` dumps thousands of bitfield entries; show the input instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expression", &self.expression)
            .field("timezone", &self.tz.name())
            .field("every_hour", &self.every_hour)
            .finish()
    }
}

/// Splits `expression` into its fields, expanding aliases and checking the field count.
fn expand(expression: &str) -> Result<Vec<&str>, TriggerError> {
    let trimmed = expression.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("cron expression is empty; {ACCEPTED}")));
    }
    if trimmed.starts_with('@') {
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => {
                return Err(invalid(format!(
                    "unsupported cron alias {trimmed:?}; {ACCEPTED}"
                )));
            }
        };
        return Ok(expanded.split_whitespace().collect());
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != 5 && fields.len() != 6 {
        return Err(invalid(format!(
            "cron expression {expression:?} has {} fields; {ACCEPTED}",
            fields.len()
        )));
    }
    Ok(fields)
}

/// Whether `cron` matches at least one second, checked day by day over a full calendar
/// cycle (croner itself would search up to the year 5000 before giving up).
fn fires_ever(cron: &Cron) -> bool {
    let Some(start) = NaiveDate::from_ymd_opt(2000, 1, 1) else {
        return false;
    };
    let Some(end) = NaiveDate::from_ymd_opt(2000 + VALIDATION_YEARS, 1, 1) else {
        return false;
    };
    let pattern = &cron.pattern;
    let first_day = start.iter_days().take_while(|day| *day < end).find(|day| {
        let weekday = Weekday::from_days_from_sunday(day.weekday().num_days_from_sunday());
        pattern.month_match(day.month()).unwrap_or(false)
            && pattern
                .day_match(day.year(), day.month(), day.day(), weekday)
                .unwrap_or(false)
    });
    // The time-of-day fields are never empty, but confirm with croner on the found day.
    first_day.is_some_and(|day| {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        cron.find_next_occurrence(&midnight, true)
            .is_ok_and(|at| at.date() == day)
    })
}

/// A `cron_expression` error.
fn invalid(message: String) -> TriggerError {
    TriggerError::new("cron_expression", message)
}
