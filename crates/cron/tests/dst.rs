//! Daylight-saving behaviour, with exact UTC instants.
//!
//! America/New_York 2026: spring forward 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC),
//! fall back 2026-11-01 02:00 EDT → 01:00 EST (06:00 UTC; 01:00-01:59 repeats: first pass
//! 05:00-05:59 UTC, second pass 06:00-06:59 UTC).
//! Europe/Berlin 2026: spring forward 2026-03-29 02:00 CET → 03:00 CEST (01:00 UTC),
//! fall back 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC; 02:00-02:59 repeats: first pass
//! 00:00-00:59 UTC, second pass 01:00-01:59 UTC).
//! Australia/Lord_Howe 2026 (30-minute shift): fall back 2026-04-05 02:00 +11:00 → 01:30
//! +10:30 (15:00 UTC on 04-04; 01:30-01:59 repeats), spring forward 2026-10-04 02:00 +10:30 →
//! 02:30 +11:00 (15:30 UTC on 10-03).

mod common;

use common::{assert_next, cron, fires, utc};

const NY: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";
const LORD_HOWE: &str = "Australia/Lord_Howe";

// ----- spring forward: skipped local times -----

#[test]
fn new_york_gap_fires_once_at_the_end_of_the_gap() {
    let t = cron("30 2 * * *", NY);
    assert_eq!(
        fires(&t, "2026-03-07T00:00:00Z", "2026-03-09T23:59:59Z", 10),
        [
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z"
        ]
    );
    // From just before the gap and from inside the gap's hour in UTC terms.
    assert_next(&t, "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z");
    assert_next(&t, "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z");
}

#[test]
fn new_york_several_matches_in_one_gap_collapse() {
    let t = cron("0,30 2 * * *", NY);
    assert_eq!(
        fires(&t, "2026-03-07T12:00:00Z", "2026-03-09T23:59:59Z", 10),
        [
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:00:00Z",
            "2026-03-09T06:30:00Z"
        ]
    );
    // A match inside the gap and one right at its end give one fire time, not two.
    let t = cron("*/20 2,3 * * *", NY);
    assert_eq!(
        fires(&t, "2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z", 10),
        [
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:20:00Z",
            "2026-03-08T07:40:00Z"
        ]
    );
    // Every second of the skipped hour collapses into 03:00:00 EDT.
    let t = cron("* * 2 * * *", NY);
    assert_eq!(
        fires(&t, "2026-03-08T00:00:00Z", "2026-03-09T06:00:01Z", 10),
        [
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:00:00Z",
            "2026-03-09T06:00:01Z"
        ]
    );
}

#[test]
fn new_york_every_hour_patterns_follow_elapsed_time_across_the_gap() {
    assert_eq!(
        fires(
            &cron("0 * * * *", NY),
            "2026-03-08T05:30:00Z",
            "2026-03-08T08:00:00Z",
            10
        ),
        [
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T08:00:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("*/15 * * * *", NY),
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:30:00Z",
            10
        ),
        [
            "2026-03-08T06:45:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:15:00Z",
            "2026-03-08T07:30:00Z"
        ]
    );
    // 02:05 does not exist; no catch-up at 03:00, the next run is 03:05 EDT, one hour later.
    assert_eq!(
        fires(
            &cron("5 * * * *", NY),
            "2026-03-08T05:30:00Z",
            "2026-03-08T08:30:00Z",
            10
        ),
        [
            "2026-03-08T06:05:00Z",
            "2026-03-08T07:05:00Z",
            "2026-03-08T08:05:00Z"
        ]
    );
}

#[test]
fn berlin_gap() {
    let t = cron("30 2 * * *", BERLIN);
    assert_eq!(
        fires(&t, "2026-03-28T00:00:00Z", "2026-03-30T23:59:59Z", 10),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z"
        ]
    );
    let t = cron("15,45 2 * * *", BERLIN);
    assert_eq!(
        fires(&t, "2026-03-29T00:00:00Z", "2026-03-30T23:59:59Z", 10),
        [
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:15:00Z",
            "2026-03-30T00:45:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("*/15 * * * *", BERLIN),
            "2026-03-29T00:40:00Z",
            "2026-03-29T01:15:00Z",
            10
        ),
        [
            "2026-03-29T00:45:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:15:00Z"
        ]
    );
}

#[test]
fn lord_howe_half_hour_gap() {
    // 02:00-02:29 is skipped on 2026-10-04; 02:15 fires at 02:30 +11:00 = 15:30 UTC.
    let t = cron("15 2 * * *", LORD_HOWE);
    assert_eq!(
        fires(&t, "2026-10-02T00:00:00Z", "2026-10-04T23:59:59Z", 10),
        [
            "2026-10-02T15:45:00Z",
            "2026-10-03T15:30:00Z",
            "2026-10-04T15:15:00Z"
        ]
    );
}

// ----- fall back: repeated local times -----

#[test]
fn new_york_repeated_time_fires_once_at_the_first_occurrence() {
    let t = cron("30 1 * * *", NY);
    assert_eq!(
        fires(&t, "2026-10-31T00:00:00Z", "2026-11-02T23:59:59Z", 10),
        [
            "2026-10-31T05:30:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z"
        ]
    );
    // Not at 06:30 UTC (01:30 EST), from either pass.
    assert_next(&t, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z");
    assert_next(&t, "2026-11-01T06:00:00Z", "2026-11-02T06:30:00Z");
    assert_next(&t, "2026-11-01T06:29:59Z", "2026-11-02T06:30:00Z");
}

#[test]
fn new_york_lists_and_steps_in_a_fixed_hour_fire_once_too() {
    assert_eq!(
        fires(
            &cron("0,30 1 * * *", NY),
            "2026-11-01T00:00:00Z",
            "2026-11-02T23:59:59Z",
            10
        ),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:00:00Z",
            "2026-11-02T06:30:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("*/20 1 * * *", NY),
            "2026-11-01T00:00:00Z",
            "2026-11-02T06:00:00Z",
            10
        ),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:20:00Z",
            "2026-11-01T05:40:00Z",
            "2026-11-02T06:00:00Z"
        ]
    );
    // Every second of 01:xx, first pass only: 3600 fires, then the next day.
    let every_second = cron("* * 1 * * *", NY);
    let times = every_second.fire_times(
        utc("2026-11-01T04:59:59Z"),
        utc("2026-11-02T06:00:00Z"),
        10_000,
    );
    assert_eq!(times.len(), 3601);
    assert_eq!(times[0], utc("2026-11-01T05:00:00Z"));
    assert_eq!(times[3599], utc("2026-11-01T05:59:59Z"));
    assert_eq!(times[3600], utc("2026-11-02T06:00:00Z"));
    assert_next(
        &every_second,
        "2026-11-01T06:30:00Z",
        "2026-11-02T06:00:00Z",
    );
}

#[test]
fn new_york_every_hour_patterns_fire_in_both_passes() {
    assert_eq!(
        fires(
            &cron("0 * * * *", NY),
            "2026-11-01T03:30:00Z",
            "2026-11-01T08:00:00Z",
            10
        ),
        [
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("@hourly", NY),
            "2026-11-01T04:30:00Z",
            "2026-11-01T07:00:00Z",
            10
        ),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z"
        ]
    );
    let quarter = cron("*/15 * * * *", NY);
    let times = quarter.fire_times(
        utc("2026-11-01T04:50:00Z"),
        utc("2026-11-01T07:10:00Z"),
        100,
    );
    assert_eq!(times.first(), Some(&utc("2026-11-01T05:00:00Z")));
    assert_eq!(times.last(), Some(&utc("2026-11-01T07:00:00Z")));
    assert_eq!(times.len(), 9);
    assert!(
        times
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::TimeDelta::minutes(15))
    );
    // Starting inside the first pass, the second pass comes next (not 02:00 EST).
    assert_next(&quarter, "2026-11-01T05:50:00Z", "2026-11-01T06:00:00Z");
    assert_next(&quarter, "2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z");
    assert_next(&quarter, "2026-11-01T05:44:59Z", "2026-11-01T05:45:00Z");
    assert_next(&quarter, "2026-11-01T06:50:00Z", "2026-11-01T07:00:00Z");
    assert_next(
        &cron("0 * * * *", NY),
        "2026-11-01T05:00:00Z",
        "2026-11-01T06:00:00Z",
    );
    // Six fields, every ten seconds, right across the change.
    assert_eq!(
        fires(
            &cron("*/10 * * * * *", NY),
            "2026-11-01T05:59:30Z",
            "2026-11-01T06:00:30Z",
            10
        ),
        [
            "2026-11-01T05:59:40Z",
            "2026-11-01T05:59:50Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:00:10Z",
            "2026-11-01T06:00:20Z",
            "2026-11-01T06:00:30Z"
        ]
    );
}

#[test]
fn berlin_repeated_time() {
    let t = cron("30 2 * * *", BERLIN);
    assert_eq!(
        fires(&t, "2026-10-24T00:00:00Z", "2026-10-26T23:59:59Z", 10),
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("0 * * * *", BERLIN),
            "2026-10-24T23:30:00Z",
            "2026-10-25T02:00:00Z",
            10
        ),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("*/30 2 * * *", BERLIN),
            "2026-10-24T23:30:00Z",
            "2026-10-25T03:00:00Z",
            10
        ),
        ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"]
    );
}

#[test]
fn lord_howe_half_hour_repeat() {
    // 01:30-01:59 repeats on 2026-04-05: first pass 14:30-14:59 UTC (+11:00), second pass
    // 15:00-15:29 UTC (+10:30).
    let t = cron("45 1 * * *", LORD_HOWE);
    assert_eq!(
        fires(&t, "2026-04-03T00:00:00Z", "2026-04-05T23:59:59Z", 10),
        [
            "2026-04-03T14:45:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-05T15:15:00Z"
        ]
    );
    assert_eq!(
        fires(
            &cron("*/15 * * * *", LORD_HOWE),
            "2026-04-04T14:20:00Z",
            "2026-04-04T15:30:00Z",
            10
        ),
        [
            "2026-04-04T14:30:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:15:00Z",
            "2026-04-04T15:30:00Z"
        ]
    );
}

// ----- every second across both changes: no duplicates, no stall -----

#[test]
fn every_second_across_dst_changes_is_contiguous() {
    for (zone, around) in [
        (NY, "2026-03-08T07:00:00Z"),
        (NY, "2026-11-01T06:00:00Z"),
        (BERLIN, "2026-03-29T01:00:00Z"),
        (BERLIN, "2026-10-25T01:00:00Z"),
        (LORD_HOWE, "2026-10-03T15:30:00Z"),
        (LORD_HOWE, "2026-04-04T15:00:00Z"),
    ] {
        let t = cron("* * * * * *", zone);
        let center = utc(around);
        let start = center - chrono::TimeDelta::hours(2);
        let times = t.fire_times(start, center + chrono::TimeDelta::hours(2), 20_000);
        assert_eq!(times.len(), 4 * 3600, "{zone} {around}");
        assert_eq!(
            times[0],
            start + chrono::TimeDelta::seconds(1),
            "{zone} {around}"
        );
        assert!(
            times
                .windows(2)
                .all(|w| w[1] - w[0] == chrono::TimeDelta::seconds(1)),
            "{zone} {around}"
        );
    }
}
