//! The arithmetic of the cost reports, apart from any I/O: report periods, time series with
//! their empty buckets filled, and the spend forecast.
//!
//! Rules:
//! - Every period is computed in UTC and is half-open, `[start, end)`.
//! - A bound is a date (`YYYY-MM-DD`) or an RFC 3339 date-time. A start date starts at 00:00
//!   UTC; an end date includes that whole day (the period ends at 00:00 UTC the day after); an
//!   end date-time is exclusive.
//! - Without bounds a period is the current UTC month up to now; with only an end, the month
//!   of that end up to it. A start after the end (after the end date's day) is refused.
//! - A series of `n` days (hours) ends with the current, partial day (hour) and has one
//!   bucket per day (hour), oldest first, zero where nothing was spent.
//! - The forecast is a trailing average with weekday seasonality: over the last
//!   [`HISTORY_DAYS`] full UTC days (4 of each weekday), each weekday's factor is its mean
//!   spend ÷ the mean spend of all those days (1 for every weekday when nothing was spent);
//!   a future day is projected as the trailing daily average × its weekday's factor, rounded
//!   to whole nano-dollars. Projections start tomorrow (today is still being spent).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeDelta, Timelike, Utc};

/// Days of history the forecast reads (four of each weekday).
pub const HISTORY_DAYS: u32 = 28;

/// How long after its end a period's reports are settled (see [`Period::settled`]).
pub const SETTLED_AFTER: TimeDelta = TimeDelta::minutes(5);

/// A report period `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Why a period could not be built; names the query parameter at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("must be a date (YYYY-MM-DD) or an RFC 3339 date-time")]
    Malformed { param: &'static str },
    #[error("must not be after end_date")]
    Reversed,
}

impl PeriodError {
    /// The query parameter the error is about.
    pub fn param(self) -> &'static str {
        match self {
            Self::Malformed { param } => param,
            Self::Reversed => "start_date",
        }
    }
}

/// One bound as given.
enum Bound {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

fn parse_bound(raw: &str, param: &'static str) -> Result<Bound, PeriodError> {
    let raw = raw.trim();
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(Bound::Date(date));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Bound::Instant(t.with_timezone(&Utc)))
        .map_err(|_| PeriodError::Malformed { param })
}

/// A bound that was given (not absent, not blank).
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    midnight(
        at.date_naive()
            .with_day(1)
            .expect("every month has a first day"),
    )
}

impl Period {
    /// The period of `start_date`/`end_date` (either may be absent or blank) at `now`.
    pub fn resolve(
        start: Option<&str>,
        end: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, PeriodError> {
        let end = given(end)
            .map(|raw| parse_bound(raw, "end_date"))
            .transpose()?;
        // An end date includes its day, so a start on the day after it is reversed.
        let end_is_date = matches!(end, Some(Bound::Date(_)));
        let end = match end {
            None => None,
            Some(Bound::Instant(t)) => Some(t),
            Some(Bound::Date(d)) => Some(midnight(
                d.succ_opt()
                    .ok_or(PeriodError::Malformed { param: "end_date" })?,
            )),
        };
        let start = match given(start)
            .map(|raw| parse_bound(raw, "start_date"))
            .transpose()?
        {
            Some(Bound::Date(d)) => Some(midnight(d)),
            Some(Bound::Instant(t)) => Some(t),
            None => None,
        };
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, now),
            // The month the (exclusive) end falls in.
            (None, Some(e)) => (month_start(e - TimeDelta::microseconds(1)), e),
            (None, None) => (month_start(now), now),
        };
        if start > end || (start == end && end_is_date) {
            return Err(PeriodError::Reversed);
        }
        Ok(Self { start, end })
    }

    /// Whether nothing can be added to the period any more at `now`: it ended at least
    /// [`SETTLED_AFTER`] ago (a cost record is stamped when its insert runs and committed
    /// within moments), so its reports may be cached.
    pub fn settled(self, now: DateTime<Utc>) -> bool {
        self.end <= now - SETTLED_AFTER
    }

    /// The whole UTC hours inside the period, `[from, to)` with `start ≤ from ≤ to ≤ end`:
    /// the part the hourly roll-up answers; `[start, from)` and `[to, end)` are the partial
    /// hours at the edges, read from the raw records (both empty for an hour-aligned period,
    /// and `from = to = end` when no whole hour fits).
    pub fn whole_hours(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let floor_start = Bucket::Hour.truncate(self.start);
        let ceil_start = if floor_start == self.start {
            floor_start
        } else {
            floor_start + Duration::hours(1)
        };
        let from = ceil_start.min(self.end);
        let to = Bucket::Hour.truncate(self.end).max(from);
        (from, to)
    }
}

/// The buckets of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Hour,
}

impl Bucket {
    /// The `date_trunc` field name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Hour => "hour",
        }
    }

    fn step(self) -> Duration {
        match self {
            Self::Day => Duration::days(1),
            Self::Hour => Duration::hours(1),
        }
    }

    /// The start of the bucket holding `at`.
    pub fn truncate(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = midnight(at.date_naive());
        match self {
            Self::Day => day,
            Self::Hour => day + Duration::hours(i64::from(at.hour())),
        }
    }

    /// The last `count` buckets up to `now` (the last one partial).
    pub fn recent(self, count: u32, now: DateTime<Utc>) -> Period {
        Period {
            start: self.truncate(now) - self.step() * (count as i32 - 1),
            end: now,
        }
    }
}

/// What the calls of a bucket (or a group) used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cost_nanos: i64,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl Usage {
    /// Spend in nano-dollars, number of calls, input and output tokens.
    pub const fn new(cost_nanos: i64, calls: i64, input_tokens: i64, output_tokens: i64) -> Self {
        Self {
            cost_nanos,
            calls,
            input_tokens,
            output_tokens,
        }
    }
}

/// Every bucket of `period` (oldest first) with its usage, zero where `sparse` has none.
pub fn fill_series(
    period: Period,
    bucket: Bucket,
    sparse: impl IntoIterator<Item = (DateTime<Utc>, Usage)>,
) -> Vec<(DateTime<Utc>, Usage)> {
    let mut sparse = sparse.into_iter().peekable();
    let mut series = Vec::new();
    let mut at = bucket.truncate(period.start);
    while at < period.end {
        let usage = match sparse.peek() {
            Some((t, usage)) if *t == at => {
                let usage = *usage;
                sparse.next();
                usage
            }
            _ => Usage::default(),
        };
        series.push((at, usage));
        at += bucket.step();
    }
    series
}

/// A projection of spend and what it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Mean spend per day over the history, in nano-dollars.
    pub trailing_daily_average_nanos: f64,
    /// Monday first.
    pub weekday_factors: [f64; 7],
    /// Each projected day and its spend in nano-dollars.
    pub daily: Vec<(NaiveDate, i64)>,
    pub total_nanos: i64,
}

/// The [`HISTORY_DAYS`] full days before `today`.
pub fn history_period(today: NaiveDate) -> Period {
    let start = midnight(today) - Duration::days(i64::from(HISTORY_DAYS));
    Period {
        start,
        end: midnight(today),
    }
}

/// Projects the `days` days after `today` from the spend of each day of
/// [`history_period`] (days missing from `history` spent nothing).
pub fn forecast(history: &[(NaiveDate, i64)], today: NaiveDate, days: u32) -> Forecast {
    let mut sums = [0i128; 7];
    let mut total = 0i128;
    for (date, nanos) in history {
        sums[date.weekday().num_days_from_monday() as usize] += i128::from(*nanos);
        total += i128::from(*nanos);
    }
    let average = total as f64 / f64::from(HISTORY_DAYS);
    let per_weekday = f64::from(HISTORY_DAYS / 7);
    let weekday_factors = sums.map(|sum| {
        if total == 0 {
            1.0
        } else {
            (sum as f64 / per_weekday) / average
        }
    });
    let daily: Vec<(NaiveDate, i64)> = (1..=i64::from(days))
        .map(|ahead| {
            let date = today + Duration::days(ahead);
            let factor = weekday_factors[date.weekday().num_days_from_monday() as usize];
            (date, (average * factor).round() as i64)
        })
        .collect();
    Forecast {
        trailing_daily_average_nanos: average,
        weekday_factors,
        total_nanos: daily.iter().map(|(_, nanos)| nanos).sum(),
        daily,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_hours_of_a_period_leave_only_the_partial_hours_at_its_edges() {
        let whole = |start, end| {
            Period {
                start: at(start),
                end: at(end),
            }
            .whole_hours()
        };
        // Aligned: nothing at the edges.
        assert_eq!(
            whole("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"),
            (at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"))
        );
        // Partial hours at both ends.
        assert_eq!(
            whole("2026-12-01T10:30:00Z", "2026-12-01T13:15:00Z"),
            (at("2026-12-01T11:00:00Z"), at("2026-12-01T13:00:00Z"))
        );
        // Within one hour: no whole hour, everything from the raw records.
        assert_eq!(
            whole("2026-12-01T10:30:00Z", "2026-12-01T10:45:00Z"),
            (at("2026-12-01T10:45:00Z"), at("2026-12-01T10:45:00Z"))
        );
        // Ending on the hour after a partial one.
        assert_eq!(
            whole("2026-12-01T10:30:00Z", "2026-12-01T11:00:00Z"),
            (at("2026-12-01T11:00:00Z"), at("2026-12-01T11:00:00Z"))
        );
    }

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
    }

    fn date(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    #[test]
    fn dates_cover_whole_utc_days_and_date_times_are_taken_as_given() {
        let now = at("2026-12-04T10:30:00Z");
        let p = Period::resolve(Some("2026-11-30"), Some("2026-12-01"), now).unwrap();
        assert_eq!(p.start, at("2026-11-30T00:00:00Z"));
        assert_eq!(p.end, at("2026-12-02T00:00:00Z"));
        let p = Period::resolve(
            Some("2026-11-30T22:00:00+02:00"),
            Some("2026-12-01T06:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(p.start, at("2026-11-30T20:00:00Z"));
        assert_eq!(p.end, at("2026-12-01T06:00:00Z"));
    }

    #[test]
    fn the_default_period_is_the_current_utc_month_up_to_now() {
        let now = at("2026-12-04T10:30:00Z");
        let p = Period::resolve(None, Some(" "), now).unwrap();
        assert_eq!((p.start, p.end), (at("2026-12-01T00:00:00Z"), now));
        let p = Period::resolve(None, Some("2026-11-30"), now).unwrap();
        assert_eq!(
            (p.start, p.end),
            (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
        );
        let p = Period::resolve(Some("2026-10-15"), None, now).unwrap();
        assert_eq!((p.start, p.end), (at("2026-10-15T00:00:00Z"), now));
    }

    #[test]
    fn bad_and_reversed_bounds_name_their_parameter() {
        let now = at("2026-12-04T10:30:00Z");
        for (start, end, param) in [
            (Some("2026-02-30"), None, "start_date"),
            (None, Some("yesterday"), "end_date"),
            (Some("2026-12-02"), Some("2026-12-01"), "start_date"),
            (Some("2026-12-05"), None, "start_date"),
        ] {
            let err = Period::resolve(start, end, now).unwrap_err();
            assert_eq!(err.param(), param, "{start:?} {end:?}");
        }
        // The same day as start and end is that whole day.
        assert!(Period::resolve(Some("2026-12-01"), Some("2026-12-01"), now).is_ok());
    }

    #[test]
    fn series_have_one_bucket_per_hour_with_zeros_for_the_gaps() {
        let now = at("2026-12-04T02:15:00Z");
        let period = Bucket::Hour.recent(4, now);
        assert_eq!(period.start, at("2026-12-03T23:00:00Z"));
        let spent = Usage {
            cost_nanos: 5,
            calls: 1,
            input_tokens: 2,
            output_tokens: 3,
        };
        let series = fill_series(period, Bucket::Hour, [(at("2026-12-04T01:00:00Z"), spent)]);
        let hours: Vec<_> = series.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            hours,
            [
                at("2026-12-03T23:00:00Z"),
                at("2026-12-04T00:00:00Z"),
                at("2026-12-04T01:00:00Z"),
                at("2026-12-04T02:00:00Z"),
            ]
        );
        assert_eq!(series[2].1, spent);
        assert_eq!(series[3].1, Usage::default());
    }

    #[test]
    fn the_forecast_follows_the_weekdays_of_the_history() {
        // 2026-12-07 is a Monday; the history is the 28 days before it.
        let today = date("2026-12-07");
        let history = history_period(today);
        assert_eq!(history.start, at("2026-11-09T00:00:00Z"));
        // Every Monday cost 7 $, Tuesdays 14 $; nothing else.
        let spend: Vec<(NaiveDate, i64)> = (0..28)
            .map(|i| date("2026-11-09") + Duration::days(i))
            .map(|d| match d.weekday().num_days_from_monday() {
                0 => (d, 7_000_000_000),
                1 => (d, 14_000_000_000),
                _ => (d, 0),
            })
            .collect();
        let f = forecast(&spend, today, 8);
        assert_eq!(f.trailing_daily_average_nanos, 3_000_000_000.0);
        assert_eq!(
            f.weekday_factors,
            [7.0 / 3.0, 14.0 / 3.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(f.daily[0], (date("2026-12-08"), 14_000_000_000));
        assert_eq!(f.daily[6], (date("2026-12-14"), 7_000_000_000));
        assert_eq!(f.daily[7], (date("2026-12-15"), 14_000_000_000));
        assert_eq!(f.total_nanos, 35_000_000_000);
    }

    #[test]
    fn without_history_every_factor_is_one_and_nothing_is_projected() {
        let f = forecast(&[], date("2026-12-07"), 3);
        assert_eq!(f.weekday_factors, [1.0; 7]);
        assert_eq!(f.total_nanos, 0);
        assert_eq!(f.daily.len(), 3);
    }
}
