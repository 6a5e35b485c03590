//! The SPEC §10 performance targets for the auth and agents endpoints, and the comparison of a run's
//! figures against them (printed and written next to goose's own report).

use goose::metrics::GooseMetrics;

/// What SPEC §10 asks of one endpoint. `None` means no target of that kind.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The goose request key, `METHOD name`.
    pub request: &'static str,
    /// The SPEC §10 row the endpoint is measured against.
    pub row: &'static str,
    /// The seeds' (Python) figure, as SPEC §10 quotes it.
    pub seeds: &'static str,
    pub min_rps: Option<f64>,
    pub max_p50_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    /// Overload must be answered 429/503, never by a timeout or a dropped connection.
    pub no_timeouts: bool,
}

impl Target {
    /// An endpoint with a throughput floor and a p99 ceiling (how it answers overload is not
    /// checked).
    const fn throughput(
        request: &'static str,
        row: &'static str,
        seeds: &'static str,
        min_rps: f64,
        max_p99_ms: f64,
    ) -> Self {
        Self {
            request,
            row,
            seeds,
            min_rps: Some(min_rps),
            max_p50_ms: None,
            max_p99_ms: Some(max_p99_ms),
            no_timeouts: false,
        }
    }

    /// An endpoint without a target of its own: only its overload is checked (429/503, never
    /// a timeout).
    const fn untargeted(request: &'static str, row: &'static str, seeds: &'static str) -> Self {
        Self {
            request,
            row,
            seeds,
            min_rps: None,
            max_p50_ms: None,
            max_p99_ms: None,
            no_timeouts: true,
        }
    }
}

/// SPEC §10, for the endpoints the auth and agents scenarios exercise.
pub const TARGETS: &[Target] = &[
    Target::throughput("GET /health", "health", "2 ms avg, >500 rps", 45_000.0, 5.0),
    Target::throughput(
        "GET /auth/me",
        "authenticated read (cached)",
        "CRUD < 50 ms avg, >100 rps",
        25_000.0,
        10.0,
    ),
    Target {
        request: "POST /auth/login",
        row: "login (argon2id)",
        seeds: "125 ms",
        min_rps: None,
        max_p50_ms: Some(60.0),
        max_p99_ms: None,
        no_timeouts: true,
    },
    Target::untargeted(
        "POST /auth/register",
        "— (argon2id hash; no own target)",
        "9 ms avg (validation report)",
    ),
    Target::untargeted("POST /auth/refresh", "— (no own target)", "—"),
    Target::throughput(
        "GET /agents/{id}",
        "authenticated read of one agent (cached)",
        "CRUD < 50 ms avg, >100 rps",
        25_000.0,
        10.0,
    ),
    Target::throughput(
        "GET /agents/?limit=20",
        "authenticated list of 20 agents",
        "< 30 ms avg, >200 rps",
        5_000.0,
        20.0,
    ),
    Target::throughput("POST /agents/", "create agent", "< 50 ms", 2_500.0, 50.0),
    Target::untargeted(
        "POST /agents/{id}/execute",
        "execute, echo provider (no own target)",
        "—",
    ),
    Target::untargeted(
        "POST /agents/{id}/execute (stream)",
        "execute, echo provider, streamed (no own target)",
        "—",
    ),
];

/// One endpoint's figures from a run.
#[derive(Debug, Clone)]
pub struct Figures {
    pub request: String,
    pub requests: usize,
    pub failures: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Status code → count (0 = no HTTP answer: timeout or connection error).
    pub statuses: Vec<(u16, usize)>,
}

impl Figures {
    /// The figures of `request` in `metrics`, if it was made at all.
    pub fn from_metrics(metrics: &GooseMetrics, request: &str) -> Option<Self> {
        let aggregate = metrics.requests.get(request)?;
        let requests = aggregate.success_count + aggregate.fail_count;
        let percentile = |p: f32| aggregate.raw_data.percentile_us(p) as f64 / 1000.0;
        let mut statuses: Vec<(u16, usize)> = aggregate
            .status_code_counts
            .iter()
            .map(|(code, count)| (*code, *count))
            .collect();
        statuses.sort_unstable();
        Some(Self {
            request: request.to_owned(),
            requests,
            failures: aggregate.fail_count,
            rps: requests as f64 / metrics.duration.max(1) as f64,
            p50_ms: percentile(0.50),
            p95_ms: percentile(0.95),
            p99_ms: percentile(0.99),
            statuses,
        })
    }

    fn no_answer(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(code, _)| *code == 0)
            .map(|(_, n)| n)
            .sum()
    }
}

/// A markdown table comparing `figures` with the matching SPEC §10 target.
pub fn comparison(figures: &Figures) -> String {
    let target = TARGETS.iter().find(|t| t.request == figures.request);
    let mut out = String::new();
    out.push_str("| endpoint | requests | failed | rps | p50 ms | p95 ms | p99 ms | statuses |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    let statuses = figures
        .statuses
        .iter()
        .map(|(code, n)| {
            format!(
                "{}×{n}",
                if *code == 0 {
                    "none".to_owned()
                } else {
                    code.to_string()
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&format!(
        "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {statuses} |\n\n",
        figures.request,
        figures.requests,
        figures.failures,
        figures.rps,
        figures.p50_ms,
        figures.p95_ms,
        figures.p99_ms
    ));
    let Some(target) = target else {
        out.push_str("No SPEC §10 target for this endpoint.\n");
        return out;
    };
    out.push_str(&format!(
        "SPEC §10 row: {} (seeds, Python: {})\n\n",
        target.row, target.seeds
    ));
    out.push_str("| check | target | measured | verdict |\n|---|---|---|---|\n");
    let mut row = |check: &str, goal: String, measured: String, ok: bool| {
        let verdict = if ok { "met" } else { "MISSED" };
        out.push_str(&format!("| {check} | {goal} | {measured} | {verdict} |\n"));
    };
    if let Some(min) = target.min_rps {
        row(
            "throughput",
            format!("> {min:.0} rps"),
            format!("{:.0} rps", figures.rps),
            figures.rps > min,
        );
    }
    if let Some(max) = target.max_p50_ms {
        row(
            "p50",
            format!("< {max} ms"),
            format!("{:.2} ms", figures.p50_ms),
            figures.p50_ms < max,
        );
    }
    if let Some(max) = target.max_p99_ms {
        row(
            "p99",
            format!("< {max} ms"),
            format!("{:.2} ms", figures.p99_ms),
            figures.p99_ms < max,
        );
    }
    if target.no_timeouts {
        let none = figures.no_answer();
        row(
            "overload answered (429/503), never a timeout",
            "0 unanswered".into(),
            format!("{none} unanswered"),
            none == 0,
        );
    }
    out.push_str(
        "\nThe load generator runs on the same 2-core machine as the server (and anything else \
         running there), so throughput is a lower bound for the server and varies between runs. \
         Throughput is requests / run duration.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;
    use crate::scenarios::Which;

    #[test]
    fn every_scenario_has_a_target_row() {
        for which in Which::value_variants() {
            let request = which.measured_request();
            assert!(
                TARGETS.iter().any(|t| t.request == request),
                "no row for {request}"
            );
        }
    }
}
