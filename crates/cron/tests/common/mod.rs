//! Helpers shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use temponest_cron::Trigger;

/// Parses an RFC 3339 instant such as `2026-03-08T07:00:00Z`.
pub fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid RFC 3339 instant in test")
        .to_utc()
}

/// A cron trigger that must parse.
pub fn cron(expression: &str, timezone: &str) -> Trigger {
    Trigger::cron(expression, timezone).expect("expression and zone in test are valid")
}

/// The fire times in `(after, until]`, as RFC 3339 strings for readable assertions.
pub fn fires(trigger: &Trigger, after: &str, until: &str, limit: usize) -> Vec<String> {
    trigger
        .fire_times(utc(after), utc(until), limit)
        .iter()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

/// `next_after` as an RFC 3339 string.
pub fn next(trigger: &Trigger, after: &str) -> Option<String> {
    trigger
        .next_after(utc(after))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Asserts that the first fire time strictly after `after` is `expected` (both RFC 3339);
/// a failure names `after`.
#[track_caller]
pub fn assert_next(trigger: &Trigger, after: &str, expected: &str) {
    assert_eq!(
        next(trigger, after).as_deref(),
        Some(expected),
        "next after {after}"
    );
}
