//! Cost of `Trigger::next_after` (target: microseconds).
//!
//! - `next/daily_berlin`: a fixed daily time on an ordinary day.
//! - `next/quarter_ny_fall_back`: `*/15 * * * *` from inside the repeated hour, the path
//!   that also looks for the second pass.
//! - `next/gap_ny`: a daily time skipped by the spring-forward gap (gap-end search).
//! - `next/interval`: an interval far from its anchor.
//!
//! Run with `cargo bench -p temponest-cron --bench next`.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use temponest_cron::Trigger;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "daily_berlin",
            "30 2 * * *",
            "Europe/Berlin",
            "2026-06-10T12:00:00Z",
        ),
        (
            "quarter_ny_fall_back",
            "*/15 * * * *",
            "America/New_York",
            "2026-11-01T05:50:00Z",
        ),
        (
            "gap_ny",
            "30 2 * * *",
            "America/New_York",
            "2026-03-08T05:00:00Z",
        ),
    ];
    for (name, expression, zone, after) in cases {
        let Ok(trigger) = Trigger::cron(expression, zone) else {
            panic!("bench case {name} must parse");
        };
        let after = at(after);
        c.bench_function(&format!("next/{name}"), |b| {
            b.iter(|| trigger.next_after(black_box(after)))
        });
    }
    let Ok(interval) = Trigger::interval(3600, at("2020-01-01T00:00:00Z")) else {
        panic!("bench interval must be valid");
    };
    let after = at("2026-06-10T12:34:56Z");
    c.bench_function("next/interval", |b| {
        b.iter(|| interval.next_after(black_box(after)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
