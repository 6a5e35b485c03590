//! Cron expressions: field forms, aliases, invalid input and time zones (no DST involved).

mod common;

use common::{assert_next, cron, fires, next};
use temponest_cron::{Trigger, TriggerError, parse_timezone};

#[test]
fn five_field_fires_at_second_zero() {
    let t = cron("15 10 * * *", "UTC");
    assert_next(&t, "2026-01-01T00:00:00Z", "2026-01-01T10:15:00Z");
    // Strictly after: the fire time itself moves on to the next day.
    assert_next(&t, "2026-01-01T10:15:00Z", "2026-01-02T10:15:00Z");
    // Sub-second `after`.
    assert_next(&t, "2026-01-01T10:14:59.5Z", "2026-01-01T10:15:00Z");
    assert_next(&t, "2026-01-01T10:15:00.5Z", "2026-01-02T10:15:00Z");
}

#[test]
fn six_field_has_seconds_first() {
    let t = cron("30 15 10 * * *", "UTC");
    assert_next(&t, "2026-01-01T00:00:00Z", "2026-01-01T10:15:30Z");
    let every_ten = cron("*/10 * * * * *", "UTC");
    assert_eq!(
        fires(
            &every_ten,
            "2026-01-01T00:00:05.5Z",
            "2026-01-01T00:00:30Z",
            10
        ),
        [
            "2026-01-01T00:00:10Z",
            "2026-01-01T00:00:20Z",
            "2026-01-01T00:00:30Z"
        ]
    );
}

#[test]
fn names_ranges_steps_and_last_day() {
    let weekdays = cron("0 9 * JAN MON-FRI", "UTC");
    // 2026-01-02 is a Friday, 2026-01-03/04 the weekend.
    assert_eq!(
        fires(
            &weekdays,
            "2026-01-02T00:00:00Z",
            "2026-01-06T23:00:00Z",
            10
        ),
        [
            "2026-01-02T09:00:00Z",
            "2026-01-05T09:00:00Z",
            "2026-01-06T09:00:00Z"
        ]
    );
    let last = cron("0 0 L 2 *", "UTC");
    assert_next(&last, "2026-01-01T00:00:00Z", "2026-02-28T00:00:00Z");
    assert_next(&last, "2027-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
}

#[test]
fn day_of_month_and_day_of_week_combine_with_or() {
    // The 13th or any Friday (2026-03-06/13/20/27 are Fridays; 2026-04-13 is a Monday).
    let t = cron("0 0 13 * FRI", "UTC");
    assert_eq!(
        fires(&t, "2026-03-01T00:00:00Z", "2026-04-14T00:00:00Z", 20),
        [
            "2026-03-06T00:00:00Z",
            "2026-03-13T00:00:00Z",
            "2026-03-20T00:00:00Z",
            "2026-03-27T00:00:00Z",
            "2026-04-03T00:00:00Z",
            "2026-04-10T00:00:00Z",
            "2026-04-13T00:00:00Z",
        ]
    );
}

#[test]
fn every_alias() {
    // 2026-03-15 is a Sunday.
    let after = "2026-03-15T12:34:56Z";
    let cases = [
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
        ("@monthly", "2026-04-01T00:00:00Z"),
        ("@weekly", "2026-03-22T00:00:00Z"),
        ("@daily", "2026-03-16T00:00:00Z"),
        ("@midnight", "2026-03-16T00:00:00Z"),
        ("@hourly", "2026-03-15T13:00:00Z"),
        ("@DAILY", "2026-03-16T00:00:00Z"),
        ("@Hourly", "2026-03-15T13:00:00Z"),
    ];
    for (alias, expected) in cases {
        assert_eq!(
            next(&cron(alias, "UTC"), after).as_deref(),
            Some(expected),
            "{alias}"
        );
    }
    // Aliases are evaluated in the zone too: midnight in Berlin (CET, +01:00).
    assert_eq!(
        next(&cron("@daily", "Europe/Berlin"), after).as_deref(),
        Some("2026-03-15T23:00:00Z")
    );
}

fn cron_error(expression: &str) -> TriggerError {
    Trigger::cron(expression, "UTC").expect_err(expression)
}

#[test]
fn malformed_expressions_are_rejected_with_the_accepted_forms() {
    let cases = [
        "",
        "   ",
        "@reboot",
        "@every 5m",
        "0 0 0 1 1 * 2026",
        "* * * *",
        "hello world",
        "* * * * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 32 * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "61 * * * * *",
        "*/0 * * * *",
        "5-a * * * *",
    ];
    for expression in cases {
        let error = cron_error(expression);
        assert_eq!(error.field, "cron_expression", "{expression:?}");
        assert!(
            error.message.contains(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds \
                 first, or @hourly/@daily/@weekly/@monthly/@yearly"
            ),
            "{expression:?}: {}",
            error.message
        );
    }
    assert!(
        cron_error("0 0 0 1 1 * 2026")
            .message
            .contains("has 7 fields")
    );
    assert!(cron_error("@reboot").message.contains("@reboot"));
    assert!(cron_error("").message.contains("empty"));
    assert_eq!(
        cron_error("60 * * * *").to_string(),
        cron_error("60 * * * *").message
    );
}

#[test]
fn expressions_that_never_fire_are_rejected() {
    for expression in [
        "0 0 30 2 *",
        "0 0 31 4 *",
        "0 0 31 2,4,6,9,11 *",
        "0 0 0 31 6 *",
        "0 0 30W 2 *",
    ] {
        let error = cron_error(expression);
        assert_eq!(error.field, "cron_expression", "{expression}");
        assert!(
            error.message.contains("never fires"),
            "{expression}: {}",
            error.message
        );
    }
    // Rare but real: 29 February.
    let leap = cron("0 0 29 2 *", "UTC");
    assert_next(&leap, "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
}

#[test]
fn unknown_time_zones_are_rejected() {
    let error = Trigger::cron("0 * * * *", "Mars/Olympus_Mons").expect_err("unknown zone");
    assert_eq!(error.field, "timezone");
    assert!(
        error.message.contains("Mars/Olympus_Mons"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("e.g. Europe/Berlin"),
        "{}",
        error.message
    );
    for bad in ["", "CEST+2", "europe/nowhere"] {
        assert_eq!(parse_timezone(bad).expect_err(bad).field, "timezone");
    }
    assert_eq!(parse_timezone("UTC").map(|tz| tz.name()), Ok("UTC"));
    assert_eq!(
        parse_timezone("Europe/Berlin").map(|tz| tz.name()),
        Ok("Europe/Berlin")
    );
    // The expression is checked after the zone: a bad zone wins.
    assert_eq!(
        Trigger::cron("nonsense", "Nowhere/Land")
            .expect_err("both bad")
            .field,
        "timezone"
    );
}

#[test]
fn utc_versus_a_half_hour_offset_zone() {
    let after = "2026-06-01T00:00:00Z";
    assert_eq!(
        next(&cron("0 9 * * *", "UTC"), after).as_deref(),
        Some("2026-06-01T09:00:00Z")
    );
    // Asia/Kolkata is +05:30 all year.
    let kolkata = cron("0 9 * * *", "Asia/Kolkata");
    assert_eq!(
        next(&kolkata, after).as_deref(),
        Some("2026-06-01T03:30:00Z")
    );
    assert_next(&kolkata, "2026-06-01T03:30:00Z", "2026-06-02T03:30:00Z");
    // Midnight in Kolkata is the previous UTC day.
    assert_eq!(
        next(&cron("0 0 * * *", "Asia/Kolkata"), after).as_deref(),
        Some("2026-06-01T18:30:00Z")
    );
}

#[test]
fn debug_output_is_short_and_names_the_schedule() {
    let text = format!("{:?}", cron("*/5 * * * *", "Europe/Berlin"));
    assert!(
        text.contains("*/5 * * * *") && text.contains("Europe/Berlin"),
        "{text}"
    );
    assert!(text.len() < 200, "{text}");
}
