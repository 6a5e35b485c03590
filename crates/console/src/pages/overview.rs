//! The overview: the tenant's last 24 hours from `GET /dashboard/metrics` — executions by
//! status, the success rate, latency (mean and p95 of completed runs), spend per hour and
//! the agents that cost most — as server-rendered charts; below them the ten newest
//! executions, followed live.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::charts::{self, Point};
use crate::error::ConsoleError;
use crate::pages::execution_list::{ListFilter, LiveList};
use crate::pages::{page, usd, usd_point, when};
use crate::web::{Chrome, ConsoleState, Signed};

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console", get(overview))
}

/// `GET /dashboard/metrics`, the parts the overview draws.
#[derive(Deserialize)]
struct Metrics {
    executions_total: i64,
    status_distribution: BTreeMap<String, StatusCount>,
    duration_ms: Durations,
    cost_per_hour: Vec<HourCost>,
    top_agents_by_cost: Vec<AgentCost>,
    scheduled_runs: ScheduledRuns,
    cached_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct StatusCount {
    count: i64,
}

#[derive(Deserialize)]
struct Durations {
    avg: Option<f64>,
    p95: Option<f64>,
}

#[derive(Deserialize)]
struct HourCost {
    hour: DateTime<Utc>,
    total_usd: f64,
}

#[derive(Deserialize)]
struct AgentCost {
    agent_id: String,
    total_usd: f64,
}

#[derive(Deserialize)]
struct ScheduledRuns {
    total: i64,
    success_rate: Option<f64>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    figures: Option<Figures>,
    /// The newest executions.
    list: LiveList,
}

/// What the overview shows, computed from the metrics.
struct Figures {
    executions: i64,
    success_rate: String,
    mean_ms: String,
    p95_ms: String,
    spend_24h: String,
    scheduled: String,
    status_chart: String,
    latency_chart: String,
    cost_chart: String,
    agents_chart: String,
    has_agents: bool,
    as_of: String,
}

async fn overview(
    State(state): State<ConsoleState>,
    signed: Signed,
) -> Result<Response, ConsoleError> {
    let chrome = Chrome::new(&signed, "overview");
    let metrics = async {
        if chrome.can.read_costs {
            let metrics: Metrics = state.api.get(&signed.cell, "/dashboard/metrics").await?;
            Ok(Some(figures(&metrics)))
        } else {
            Ok(None)
        }
    };
    let newest = ListFilter {
        limit: 10,
        ..ListFilter::default()
    };
    let recent = LiveList::load(&state, &signed, &newest, "No executions yet.");
    let (figures, (recent, _)) = futures::try_join!(metrics, recent)?;
    page(&OverviewPage {
        chrome,
        figures,
        list: recent,
    })
}

fn figures(m: &Metrics) -> Figures {
    let count = |status: &str| m.status_distribution.get(status).map_or(0, |s| s.count);
    let finished = count("completed") + count("failed");
    let success_rate = if finished > 0 {
        format!(
            "{:.1}%",
            100.0 * count("completed") as f64 / finished as f64
        )
    } else {
        "–".to_owned()
    };
    let ms = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0} ms"));
    let statuses: Vec<Point> = ["completed", "failed", "running", "pending"]
        .iter()
        .map(|s| Point {
            label: (*s).to_owned(),
            value: count(s) as f64,
            shown: count(s).to_string(),
        })
        .collect();
    let latency: Vec<Point> = [("mean", m.duration_ms.avg), ("p95", m.duration_ms.p95)]
        .iter()
        .map(|(label, v)| Point {
            label: (*label).to_owned(),
            value: v.unwrap_or(0.0),
            shown: ms(*v),
        })
        .collect();
    let hours: Vec<Point> = m
        .cost_per_hour
        .iter()
        .map(|h| usd_point(h.hour.format("%H:00").to_string(), h.total_usd))
        .collect();
    let spend: f64 = m.cost_per_hour.iter().map(|h| h.total_usd).sum();
    let max_hour = m
        .cost_per_hour
        .iter()
        .map(|h| h.total_usd)
        .fold(0.0, f64::max);
    let agents: Vec<Point> = m
        .top_agents_by_cost
        .iter()
        .map(|a| usd_point(short_id(&a.agent_id), a.total_usd))
        .collect();
    Figures {
        executions: m.executions_total,
        success_rate: success_rate.clone(),
        mean_ms: ms(m.duration_ms.avg),
        p95_ms: ms(m.duration_ms.p95),
        spend_24h: usd(spend),
        scheduled: match m.scheduled_runs.success_rate {
            Some(rate) => format!("{:.1}% of {}", rate * 100.0, m.scheduled_runs.total),
            None => "none".to_owned(),
        },
        status_chart: charts::bars(
            &format!("Executions in the last 24 hours by status; success rate {success_rate}"),
            &statuses,
            None,
        ),
        latency_chart: charts::bars(
            "Latency of completed executions: mean and 95th percentile",
            &latency,
            None,
        ),
        cost_chart: charts::columns(
            "Spend per hour over the last 24 hours (UTC)",
            &hours,
            &usd(max_hour),
        ),
        agents_chart: charts::bars(
            "The agents that cost most in the last 24 hours",
            &agents,
            None,
        ),
        has_agents: !agents.is_empty(),
        as_of: when(&m.cached_at),
    }
}

/// The first block of an id (a chart label; the full id is in the agent list).
fn short_id(id: &str) -> String {
    id.split('-').next().unwrap_or(id).to_owned()
}
