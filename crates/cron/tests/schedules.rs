//! Intervals, one-shots, `fire_times` bounds and a monotonicity property over a year.

mod common;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use common::{assert_next, cron, fires, next, utc};
use temponest_cron::Trigger;

fn interval(seconds: u64, anchor: &str) -> Trigger {
    Trigger::interval(seconds, utc(anchor)).expect("valid interval in test")
}

#[test]
fn interval_with_the_anchor_in_the_future_fires_at_the_anchor() {
    let t = interval(3600, "2026-01-01T00:00:00Z");
    assert_next(&t, "2025-06-01T12:00:00Z", "2026-01-01T00:00:00Z");
    assert_eq!(
        t.next_after(utc("2026-01-01T00:00:00Z") - TimeDelta::nanoseconds(1)),
        Some(utc("2026-01-01T00:00:00Z"))
    );
}

#[test]
fn interval_with_the_anchor_in_the_past_is_strictly_after() {
    let t = interval(3600, "2026-01-01T00:00:00Z");
    assert_next(&t, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z");
    // Exact boundary: strictly after.
    assert_next(&t, "2026-01-01T05:00:00Z", "2026-01-01T06:00:00Z");
    assert_next(&t, "2026-01-01T04:59:59.999Z", "2026-01-01T05:00:00Z");
    assert_next(&t, "2026-01-01T05:00:00.001Z", "2026-01-01T06:00:00Z");
    // Far from the anchor.
    assert_next(&t, "2036-07-15T10:30:00Z", "2036-07-15T11:00:00Z");
    // An interval that does not divide a day keeps its phase.
    let t = interval(7, "2026-01-01T00:00:03Z");
    assert_next(&t, "2026-01-01T00:01:00Z", "2026-01-01T00:01:06Z");
}

#[test]
fn interval_bounds() {
    for bad in [0, 366 * 86_400 + 1, u64::MAX] {
        let error = Trigger::interval(bad, utc("2026-01-01T00:00:00Z")).expect_err("out of range");
        assert_eq!(error.field, "interval_seconds");
        assert!(
            error.message.contains("expected 1 to 31622400 seconds"),
            "{}",
            error.message
        );
    }
    let longest = interval(366 * 86_400, "2026-01-01T00:00:00Z");
    assert_next(&longest, "2026-01-01T00:00:00Z", "2027-01-02T00:00:00Z");
    let shortest = interval(1, "2026-01-01T00:00:00Z");
    assert_next(&shortest, "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:01Z");
}

#[test]
fn once_fires_only_strictly_after() {
    let t = Trigger::once(utc("2026-05-01T12:00:00Z"));
    assert_next(&t, "2026-05-01T11:59:59Z", "2026-05-01T12:00:00Z");
    assert_eq!(next(&t, "2026-05-01T12:00:00Z"), None);
    assert_eq!(next(&t, "2026-06-01T00:00:00Z"), None);
    assert_eq!(
        fires(&t, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", 10),
        ["2026-05-01T12:00:00Z"]
    );
    assert!(fires(&t, "2026-01-01T00:00:00Z", "2026-05-01T11:59:59Z", 10).is_empty());
}

#[test]
fn fire_times_respects_range_and_limit() {
    let hourly = cron("0 * * * *", "UTC");
    // `until` is inclusive, `after` exclusive.
    assert_eq!(
        fires(&hourly, "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z", 100),
        [
            "2026-01-01T01:00:00Z",
            "2026-01-01T02:00:00Z",
            "2026-01-01T03:00:00Z"
        ]
    );
    assert_eq!(
        fires(&hourly, "2026-01-01T00:00:00Z", "2026-01-01T23:00:00Z", 2),
        ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]
    );
    assert!(fires(&hourly, "2026-01-01T00:00:00Z", "2026-01-01T23:00:00Z", 0).is_empty());
    assert!(fires(&hourly, "2026-01-01T05:00:00Z", "2026-01-01T01:00:00Z", 10).is_empty());
    // A huge range with a small limit computes only what it returns.
    let every_second = cron("* * * * * *", "UTC");
    assert_eq!(
        fires(
            &every_second,
            "2026-01-01T00:00:00Z",
            "4000-01-01T00:00:00Z",
            3
        ),
        [
            "2026-01-01T00:00:01Z",
            "2026-01-01T00:00:02Z",
            "2026-01-01T00:00:03Z"
        ]
    );
    let ticks = interval(1, "2026-01-01T00:00:00Z");
    assert_eq!(
        fires(&ticks, "2026-01-01T00:00:00Z", "9999-01-01T00:00:00Z", 2),
        ["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"]
    );
}

#[test]
fn cron_past_the_search_horizon_returns_none() {
    assert_eq!(
        cron("0 0 1 1 *", "UTC").next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
    assert_eq!(
        next(&cron("0 0 1 1 *", "UTC"), "5001-01-01T00:00:00Z"),
        None
    );
    // Extreme instants in far-offset zones neither panic nor loop.
    for zone in [
        "America/New_York",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
    ] {
        let t = cron("*/10 * * * * *", zone);
        assert_eq!(t.next_after(DateTime::<Utc>::MAX_UTC), None, "{zone}");
        let first = t.next_after(DateTime::<Utc>::MIN_UTC);
        assert!(
            first.is_some_and(|at| at < utc("0002-01-01T00:00:00Z")),
            "{zone}: {first:?}"
        );
    }
}

#[test]
fn next_is_strictly_increasing_whole_seconds_over_a_year() {
    let patterns = [
        "*/15 * * * *",
        "30 2 * * *",
        "0,30 1-3 * * *",
        "@hourly",
        "0 0 L * *",
        "17 */5 * * 1-5",
        "*/20 2 * * *",
        "45 59 * * * *",
    ];
    for zone in [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ] {
        for pattern in patterns {
            let t = cron(pattern, zone);
            let end = utc("2027-01-01T00:00:00Z");
            let mut cursor = utc("2026-01-01T00:00:00Z");
            let mut count = 0;
            while let Some(fire) = t.next_after(cursor) {
                assert!(fire > cursor, "{pattern} in {zone}: {fire} after {cursor}");
                assert_eq!(fire.nanosecond(), 0, "{pattern} in {zone}");
                if fire > end {
                    break;
                }
                cursor = fire;
                count += 1;
            }
            assert!(count > 0, "{pattern} in {zone}");
        }
    }
    // Daily fixed times fire exactly once per local day, DST days included.
    for zone in ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"] {
        let t = cron("30 2 * * *", zone);
        let year = t.fire_times(
            utc("2026-01-01T00:00:00Z"),
            utc("2027-01-01T00:00:00Z"),
            1000,
        );
        assert_eq!(year.len(), 365, "{zone}");
    }
}

#[test]
fn without_dst_the_fire_times_equal_crons_own() {
    use croner::parser::{CronParser, Seconds};
    let parser = CronParser::builder().seconds(Seconds::Optional).build();
    let patterns = [
        "*/7 * * * *",
        "0 9-17/2 * * MON-FRI",
        "0 0 13 * FRI",
        "15 30 */6 L * *",
    ];
    for zone in ["UTC", "Asia/Kolkata"] {
        let tz = temponest_cron::parse_timezone(zone).expect("known zone");
        for pattern in patterns {
            let ours = cron(pattern, zone).fire_times(
                utc("2026-01-01T00:00:00Z"),
                utc("2026-12-31T23:59:59Z"),
                500,
            );
            let start = utc("2026-01-01T00:00:00Z").with_timezone(&tz);
            let theirs: Vec<DateTime<Utc>> = parser
                .parse(pattern)
                .expect("croner parses it")
                .iter_after(start)
                .map(|at| at.to_utc())
                .take_while(|at| *at <= utc("2026-12-31T23:59:59Z"))
                .take(500)
                .collect();
            assert!(!ours.is_empty(), "{pattern} in {zone}");
            assert_eq!(ours, theirs, "{pattern} in {zone}");
        }
    }
}
