//! `status`: the platform's readiness, the services it runs and their version (warning when
//! the client's differs), and the engines' health read from its own `/metrics`: scheduler
//! queue depth, runs in flight and fire lateness, webhook backlog and its oldest age.
//! Exit code 1 when the platform is unreachable or not ready.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{or_dash, scalar};

/// `version`: the client's and the platform's versions (from `/health`, no login needed).
pub async fn version(ctx: &Ctx) -> Result<(), CliError> {
    let health: Value = ctx
        .api
        .public(Method::GET, "/health", None)
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    let client = env!("CARGO_PKG_VERSION");
    let server = health["version"].as_str();
    let report = json!({ "client": client, "server": server, "url": ctx.api.base });
    if !ctx.out.raw(&report)? {
        outln!("client    {client}");
        outln!(
            "platform  {} ({})",
            server.unwrap_or("unknown"),
            ctx.api.base
        );
    }
    warn_on_skew(server);
    Ok(())
}

/// Says so on stderr when the platform runs another version than the client.
fn warn_on_skew(server: Option<&str>) {
    let client = env!("CARGO_PKG_VERSION");
    if let Some(server) = server
        && server != client
    {
        eprintln!(
            "warning: the client is version {client} and the platform {server}; \
             commands may not understand each other"
        );
    }
}

/// The gauges shown, with how they are labelled.
const GAUGES: &[(&str, &str)] = &[
    ("scheduler_queue_depth", "scheduler: due schedules waiting"),
    ("scheduler_running_executions", "scheduler: runs in flight"),
    ("webhook_queue_depth", "webhooks: deliveries waiting"),
    (
        "webhook_oldest_pending_seconds",
        "webhooks: oldest waiting (s)",
    ),
];

const LATENESS: &str = "scheduler_fire_lateness_seconds";

pub async fn run(ctx: &Ctx) -> Result<(), CliError> {
    let api = &ctx.api;
    let health = api.public(Method::GET, "/health", None).await?;
    let health_code = health.status().as_u16();
    let health: Value = health.json().await.unwrap_or(Value::Null);
    let ready = api
        .public(Method::GET, "/health/ready", None)
        .await?
        .status()
        .is_success();
    // Separate deployments do not publish /metrics through the edge: then the engines are
    // simply not shown.
    let metrics = match api.public(Method::GET, "/metrics", None).await {
        Ok(r) if r.status().is_success() => Some(r.text().await.unwrap_or_default()),
        _ => None,
    };
    let samples = metrics.as_deref().map(parse_metrics).unwrap_or_default();
    let mut engines = serde_json::Map::new();
    for (name, _) in GAUGES {
        engines.insert((*name).to_owned(), samples.get(*name).copied().into());
    }
    let count = samples.get(&format!("{LATENESS}_count")).copied();
    let sum = samples.get(&format!("{LATENESS}_sum")).copied();
    engines.insert(
        LATENESS.to_owned(),
        json!({
            "fires": count,
            "mean": match (sum, count) { (Some(s), Some(c)) if c > 0.0 => Some(s / c), _ => None },
            "p99": samples.get(&format!("{LATENESS}{{quantile=\"0.99\"}}")).copied(),
        }),
    );
    let client_version = env!("CARGO_PKG_VERSION");
    let server_version = health["version"].as_str().map(str::to_owned);
    let report = json!({
        "url": api.base,
        "ready": ready,
        "health": health,
        "health_status_code": health_code,
        "client_version": client_version,
        "server_version": server_version,
        "metrics_available": metrics.is_some(),
        "engines": engines,
    });
    if !ctx.out.raw(&report)? {
        print_report(ctx, &report);
    }
    warn_on_skew(server_version.as_deref());
    if ready {
        Ok(())
    } else {
        Err(CliError::Failed(format!("{} is not ready", api.base)))
    }
}

fn print_report(ctx: &Ctx, report: &Value) {
    let out = &ctx.out;
    let health = &report["health"];
    let ready = report["ready"] == true;
    outln!(
        "{}  {}  version {}",
        report["url"].as_str().unwrap_or_default(),
        out.paint(if ready { "ready" } else { "NOT READY" }, ready),
        scalar(&health["version"])
    );
    let services: Vec<String> = health["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(scalar)
        .collect();
    let overall = health["status"].as_str().unwrap_or("unknown");
    let mut rows = vec![vec![
        "services".to_owned(),
        if services.is_empty() {
            "-".into()
        } else {
            services.join(", ")
        },
        out.paint(overall, overall == "healthy"),
    ]];
    for (name, check) in health["checks"].as_object().into_iter().flatten() {
        let state = check["status"].as_str().unwrap_or("unknown");
        rows.push(vec![
            name.clone(),
            format!("{} ms", scalar(&check["latency_ms"])),
            out.paint(state, state == "ok"),
        ]);
    }
    outln!();
    out.table(&["CHECK", "DETAIL", "STATE"], rows);
    outln!();
    if report["metrics_available"] != true {
        outln!("engines: /metrics is not reachable at this URL (it is not published by the edge)");
        return;
    }
    let engines = &report["engines"];
    let mut rows: Vec<Vec<String>> = GAUGES
        .iter()
        .map(|(name, label)| vec![(*label).to_owned(), or_dash(engines[*name].as_f64())])
        .collect();
    let lateness = &engines[LATENESS];
    rows.push(vec![
        "scheduler: fire lateness".to_owned(),
        match lateness["mean"].as_f64() {
            Some(mean) => format!(
                "mean {mean:.3}s over {:.0} fires{}",
                lateness["fires"].as_f64().unwrap_or(0.0),
                lateness["p99"]
                    .as_f64()
                    .map_or_else(String::new, |p| format!(", p99 {p:.3}s"))
            ),
            None => "-".into(),
        },
    ]);
    out.table(&["ENGINE", "VALUE"], rows);
}

/// Samples of a Prometheus text exposition, keyed by name with their labels as written
/// (`name` or `name{label="v"}`). Comments and malformed lines are skipped.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.trim().rsplit_once(' ')?;
            Some((key.trim().to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_with_their_labels() {
        let text = "# HELP x y\n# TYPE scheduler_queue_depth gauge\nscheduler_queue_depth 3\n\
                    scheduler_fire_lateness_seconds{quantile=\"0.99\"} 0.25\n\
                    scheduler_fire_lateness_seconds_sum 1.5\nbroken line x\n";
        let samples = parse_metrics(text);
        assert_eq!(samples["scheduler_queue_depth"], 3.0);
        assert_eq!(
            samples["scheduler_fire_lateness_seconds{quantile=\"0.99\"}"],
            0.25
        );
        assert_eq!(samples["scheduler_fire_lateness_seconds_sum"], 1.5);
        assert_eq!(samples.len(), 3);
    }
}
