//! `GET /dashboard/metrics`: a tenant's last 24 UTC hours at a glance, permission
//! `costs:read` (it shows spend, and viewers hold it), computed by SQL aggregates and cached
//! per tenant in the two-tier cache (category `dashboard`, 30 s; `cached_at` says when the
//! figures were computed). The rules are in [`crate::domain::dashboard`].

use chrono::Utc;
use temponest_cache::categories;
use temponest_web::{ApiError, ApiResult, Json};
use uuid::Uuid;

use crate::db::cost_reports::{self, Dimension};
use crate::db::dashboard;
use crate::domain::cost_reports::{Bucket, fill_series};
use crate::domain::dashboard::{self as rules, TOP_AGENTS};
use crate::models::costs::TIMEZONE;
use crate::models::dashboard::{AgentCostOut, AgentFailuresOut, DashboardMetricsOut, HourCostOut};
use crate::models::executions::nanos_to_usd;
use crate::routes::Call;
use crate::state::AppState;
use temponest_platform::access::CostsRead;

/// Executions, their status distribution and durations, spend per hour, the top agents by
/// spend and by failures, and the scheduled-run success rate of the last 24 UTC hours.
#[utoipa::path(get, path = "/dashboard/metrics", operation_id = "dashboard_metrics", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, body = DashboardMetricsOut), (status = 403)))]
pub async fn metrics(call: Call<CostsRead>) -> ApiResult<Json<DashboardMetricsOut>> {
    let (state, principal, ()) = call.into_parts();
    let tenant_id = principal.tenant_id;
    let metrics = state
        .cache
        .get_or_load(
            &categories::DASHBOARD,
            &format!("metrics:{tenant_id}"),
            || compute(&state, tenant_id),
        )
        .await?;
    Ok(Json(metrics))
}

/// The dashboard of a tenant, now.
async fn compute(state: &AppState, tenant_id: Uuid) -> Result<DashboardMetricsOut, ApiError> {
    let now = Utc::now();
    let period = rules::period(now);
    let pool = &state.pool;
    let (counts, durations, hours, by_cost, by_failures, runs) = tokio::try_join!(
        dashboard::status_counts(pool, tenant_id, period),
        dashboard::completed_durations(pool, tenant_id, period),
        cost_reports::buckets(pool, tenant_id, period, Bucket::Hour),
        cost_reports::breakdown(pool, tenant_id, period, Dimension::Agent, TOP_AGENTS),
        dashboard::top_failing_agents(pool, tenant_id, period, TOP_AGENTS),
        dashboard::scheduled_runs(pool, tenant_id, period),
    )?;
    let (executions_total, shares) = rules::status_distribution(&counts);
    Ok(DashboardMetricsOut {
        executions_total,
        status_distribution: shares
            .into_iter()
            .map(|share| (share.status.as_str().to_owned(), share.into()))
            .collect(),
        duration_ms: durations.into(),
        cost_per_hour: fill_series(period, Bucket::Hour, hours)
            .into_iter()
            .map(|(hour, usage)| HourCostOut {
                hour,
                total_usd: nanos_to_usd(usage.cost_nanos),
            })
            .collect(),
        top_agents_by_cost: by_cost
            .into_iter()
            .map(|(agent_id, usage)| AgentCostOut {
                agent_id,
                total_usd: nanos_to_usd(usage.cost_nanos),
            })
            .collect(),
        top_agents_by_failures: by_failures
            .into_iter()
            .map(|(agent_id, failures)| AgentFailuresOut { agent_id, failures })
            .collect(),
        scheduled_runs: runs.into(),
        period_start: period.start,
        period_end: period.end,
        timezone: TIMEZONE.into(),
        cached_at: now,
    })
}
