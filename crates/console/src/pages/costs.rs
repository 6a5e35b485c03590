//! Costs: spend per UTC day over the last 30 days, by agent and by model, and the budget's
//! status — from the agents service's cost endpoints.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::charts::{self, Point};
use crate::error::ConsoleError;
use crate::pages::{page, usd, usd_point};
use crate::web::{Chrome, ConsoleState, Signed};

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/costs", get(costs))
}

#[derive(Deserialize)]
struct Day {
    date: NaiveDate,
    total_usd: f64,
}

#[derive(Deserialize)]
struct Breakdown {
    agent_id: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    total_usd: f64,
    calls: i64,
}

#[derive(Deserialize)]
struct BudgetStatus {
    daily_usage: f64,
    daily_limit: Option<f64>,
    daily_percentage: Option<f64>,
    monthly_usage: f64,
    monthly_limit: Option<f64>,
    monthly_percentage: Option<f64>,
}

#[derive(Template)]
#[template(path = "costs.html")]
struct CostsPage {
    chrome: Chrome,
    total_30d: String,
    daily_chart: String,
    agents_chart: String,
    models_chart: String,
    has_breakdown: bool,
    daily_budget: String,
    monthly_budget: String,
}

/// "$1.20 of $5.00 (24%)", or the usage alone when there is no limit.
fn budget_line(usage: f64, limit: Option<f64>, fraction: Option<f64>) -> String {
    match (limit, fraction) {
        (Some(limit), Some(f)) => format!("{} of {} ({:.0}%)", usd(usage), usd(limit), f * 100.0),
        _ => format!("{} (no limit)", usd(usage)),
    }
}

async fn costs(
    State(state): State<ConsoleState>,
    signed: Signed,
) -> Result<Response, ConsoleError> {
    let (days, agents, models, budget) = futures::try_join!(
        state
            .api
            .get::<Vec<Day>>(&signed.cell, "/costs/daily?days=30"),
        state
            .api
            .get::<Vec<Breakdown>>(&signed.cell, "/costs/by-agent"),
        state
            .api
            .get::<Vec<Breakdown>>(&signed.cell, "/costs/by-model"),
        state
            .api
            .get::<BudgetStatus>(&signed.cell, "/costs/budget/status")
    )?;
    let daily: Vec<Point> = days
        .iter()
        .map(|d| usd_point(d.date.format("%m-%d").to_string(), d.total_usd))
        .collect();
    let max = days.iter().map(|d| d.total_usd).fold(0.0, f64::max);
    let total: f64 = days.iter().map(|d| d.total_usd).sum();
    let breakdown = |rows: &[Breakdown], label: fn(&Breakdown) -> String| -> Vec<Point> {
        rows.iter()
            .map(|r| Point {
                label: label(r),
                value: r.total_usd,
                shown: format!("{} · {} calls", usd(r.total_usd), r.calls),
            })
            .collect()
    };
    let by_agent = breakdown(&agents, |r| {
        r.agent_id
            .clone()
            .unwrap_or_default()
            .chars()
            .take(8)
            .collect()
    });
    let by_model = breakdown(&models, |r| {
        format!(
            "{}/{}",
            r.provider.clone().unwrap_or_default(),
            r.model.clone().unwrap_or_default()
        )
    });
    page(&CostsPage {
        chrome: Chrome::new(&signed, "costs"),
        total_30d: usd(total),
        daily_chart: charts::columns("Spend per UTC day over the last 30 days", &daily, &usd(max)),
        has_breakdown: !by_agent.is_empty(),
        agents_chart: charts::bars("Spend by agent this month", &by_agent, None),
        models_chart: charts::bars("Spend by model this month", &by_model, None),
        daily_budget: budget_line(
            budget.daily_usage,
            budget.daily_limit,
            budget.daily_percentage,
        ),
        monthly_budget: budget_line(
            budget.monthly_usage,
            budget.monthly_limit,
            budget.monthly_percentage,
        ),
    })
}
