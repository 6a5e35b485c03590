//! `costs`: the spend summary of a period, the budget, its status, and setting it.

use serde_json::{Value, json};
use temponest_agents::models::costs::CostSummaryOut;

use super::agent_id;
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{local, or_dash, parse, scalar};

#[derive(Debug, clap::Subcommand)]
pub enum Costs {
    /// Spend of a period (UTC; default: this month so far) by provider, model and agent
    #[command(after_help = "Examples:
  temponest costs summary
  temponest costs summary --start 2026-11-01 --end 2026-11-30 --agent helper
  temponest costs summary -o json | jq .total_usd")]
    Summary {
        /// First day (YYYY-MM-DD) or instant (RFC 3339)
        #[arg(long)]
        start: Option<String>,
        /// Last day (included) or instant (excluded)
        #[arg(long)]
        end: Option<String>,
        /// Only this agent's spend (id or name)
        #[arg(long)]
        agent: Option<String>,
        /// Only this project's spend
        #[arg(long)]
        project: Option<String>,
    },
    /// The tenant's (or an agent's) budget
    #[command(
        after_help = "Examples:\n  temponest costs budget\n  temponest costs budget --agent helper"
    )]
    Budget {
        #[arg(long)]
        agent: Option<String>,
    },
    /// This day's and month's spend against the budget, and the alerts raised
    #[command(after_help = "Example:\n  temponest costs budget-status")]
    BudgetStatus {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Set the tenant's (or an agent's) budget; limits are enforced before each model call
    #[command(after_help = "Examples:
  temponest costs set-budget --daily 5 --monthly 100 --alert-threshold 0.8
  temponest costs set-budget --agent helper --daily 1
  temponest costs set-budget --monthly none    # removes the monthly limit")]
    SetBudget {
        /// USD per UTC day, or `none`
        #[arg(long)]
        daily: Option<String>,
        /// USD per UTC month, or `none`
        #[arg(long)]
        monthly: Option<String>,
        /// Fraction of a limit at which an alert is raised, in (0, 1]
        #[arg(long)]
        alert_threshold: Option<f64>,
        #[arg(long)]
        agent: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, command: Costs) -> Result<(), CliError> {
    let api = &ctx.api;
    match command {
        Costs::Summary {
            start,
            end,
            agent,
            project,
        } => {
            let mut query = Vec::new();
            if let Some(start) = start {
                query.push(("start_date", start));
            }
            if let Some(end) = end {
                query.push(("end_date", end));
            }
            if let Some(agent) = agent {
                query.push(("agent_id", agent_id(ctx, &agent).await?));
            }
            if let Some(project) = project {
                query.push(("project_id", project));
            }
            let body = api.get("/costs/summary", &query).await?.body;
            if ctx.out.raw(&body)? {
                return Ok(());
            }
            let summary: CostSummaryOut = parse(&body)?;
            outln!(
                "{} → {}: ${:.6} in {} calls ({} input / {} output tokens)",
                local(Some(summary.period_start)),
                local(Some(summary.period_end)),
                summary.total_usd,
                summary.calls,
                summary.total_tokens.input,
                summary.total_tokens.output
            );
            if summary.unpriced_calls > 0 {
                eprintln!(
                    "note: {} calls used models without a price; the totals are lower bounds",
                    summary.unpriced_calls
                );
            }
            let mut rows = Vec::new();
            for (kind, map) in [
                ("provider", &summary.by_provider),
                ("model", &summary.by_model),
                ("agent", &summary.by_agent),
            ] {
                for (name, usd) in map {
                    rows.push(vec![kind.to_owned(), name.clone(), format!("{usd:.6}")]);
                }
            }
            if !rows.is_empty() {
                outln!();
                ctx.out.table(&["BY", "NAME", "USD"], rows);
            }
            Ok(())
        }
        Costs::Budget { agent } => {
            let query = agent_query(ctx, agent).await?;
            ctx.out
                .object(&api.get("/costs/budget", &query).await?.body)
        }
        Costs::BudgetStatus { agent } => {
            let query = agent_query(ctx, agent).await?;
            let status = api.get("/costs/budget/status", &query).await?.body;
            if ctx.out.raw(&status)? {
                return Ok(());
            }
            let line = |period: &str| {
                let usage = status[format!("{period}_usage")].as_f64().unwrap_or(0.0);
                let limit = &status[format!("{period}_limit")];
                let pct = status[format!("{period}_percentage")].as_f64();
                vec![
                    period.to_owned(),
                    format!("{usage:.6}"),
                    scalar(limit),
                    or_dash(pct.map(|p| format!("{:.1}%", p * 100.0))),
                ]
            };
            ctx.out.table(
                &["PERIOD", "USED USD", "LIMIT USD", "USED"],
                vec![line("daily"), line("monthly")],
            );
            for alert in status["alerts_triggered"].as_array().into_iter().flatten() {
                outln!(
                    "alert: {} of the {} limit at {}",
                    scalar(&alert["kind"]),
                    scalar(&alert["period"]),
                    scalar(&alert["at"])
                );
            }
            Ok(())
        }
        Costs::SetBudget {
            daily,
            monthly,
            alert_threshold,
            agent,
        } => {
            // The API sets the whole budget: fields not given keep their current values.
            let query = agent_query(ctx, agent.clone()).await?;
            let current = match api.get("/costs/budget", &query).await {
                Ok(reply) => reply.body,
                Err(CliError::Api(f)) if f.status == 404 => json!({}),
                Err(other) => return Err(other),
            };
            let mut body = json!({
                "daily_limit_usd": current["daily_limit_usd"],
                "monthly_limit_usd": current["monthly_limit_usd"],
            });
            if let Some(threshold) = alert_threshold.or(current["alert_threshold"].as_f64()) {
                body["alert_threshold"] = threshold.into();
            }
            if let Some(daily) = daily {
                body["daily_limit_usd"] = limit("--daily", &daily)?;
            }
            if let Some(monthly) = monthly {
                body["monthly_limit_usd"] = limit("--monthly", &monthly)?;
            }
            if let Some((_, id)) = query.first() {
                body["agent_id"] = id.clone().into();
            }
            ctx.out.object(&api.post("/costs/budget", &body).await?)
        }
    }
}

async fn agent_query(
    ctx: &Ctx,
    agent: Option<String>,
) -> Result<Vec<(&'static str, String)>, CliError> {
    Ok(match agent {
        Some(agent) => vec![("agent_id", agent_id(ctx, &agent).await?)],
        None => Vec::new(),
    })
}

/// A limit flag: a number of USD, or `none`.
fn limit(flag: &str, text: &str) -> Result<Value, CliError> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Value::Null);
    }
    text.parse::<f64>().map(Value::from).map_err(|_| {
        CliError::Usage(format!(
            "{flag} must be a number of USD or `none` (got {text:?})"
        ))
    })
}
