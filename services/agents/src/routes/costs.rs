//! The cost reports, tenant-scoped, permission `costs:read`: `GET /costs/summary`,
//! `/costs/daily`, `/costs/hourly`, `/costs/by-agent`, `/costs/by-provider`, `/costs/by-model`
//! and `/costs/forecast` (the export is in [`super::cost_export`]). Periods are UTC; the
//! rules are in [`crate::domain::cost_reports`].

use std::collections::BTreeMap;

use chrono::Utc;
use temponest_cache::categories;
use temponest_web::extract::ApiQuery;
use temponest_web::{ApiError, ApiResult, Json};

use crate::db::cost_reports::{self, Dimension};
use crate::domain::cost_reports::{self as reports, Bucket, Usage};
use crate::models::costs::{
    CostBreakdownOut, CostForecastOut, CostSummaryOut, CountQuery, DailyCostOut, HourlyCostOut,
    PeriodQuery, SummaryQuery, TIMEZONE, TokenTotals, count_param,
};
use crate::models::executions::nanos_to_usd;
use crate::routes::Call;
use crate::state::AppState;
use temponest_platform::access::CostsRead;

/// Spend of a period (default: the current UTC month up to now), in total and by provider,
/// model and agent; optionally only one agent's or one project's.
#[utoipa::path(get, path = "/costs/summary", operation_id = "cost_summary", tag = "costs", security(("bearer" = [])),
    params(("start_date" = Option<String>, Query, description = "YYYY-MM-DD (from 00:00 UTC) or RFC 3339"),
           ("end_date" = Option<String>, Query, description = "YYYY-MM-DD (that whole UTC day included) or RFC 3339 (exclusive)"),
           ("agent_id" = Option<uuid::Uuid>, Query), ("project_id" = Option<String>, Query)),
    responses((status = 200, body = CostSummaryOut), (status = 403), (status = 422)))]
pub async fn summary(
    call: Call<CostsRead, ApiQuery<SummaryQuery>>,
) -> ApiResult<Json<CostSummaryOut>> {
    let (state, principal, ApiQuery(query)) = call.into_parts();
    let now = Utc::now();
    let period = query.period.period(now)?;
    let (agent_id, project_id) = query.filters()?;
    let tenant_id = principal.tenant_id;
    if !period.settled(now) {
        return Ok(Json(
            summary_of(&state, tenant_id, period, agent_id, project_id).await?,
        ));
    }
    // A settled period's summary cannot change any more: cached (category `dashboard`).
    let key = format!(
        "summary:{tenant_id}:{}:{}:{}:{}",
        period.start.timestamp_micros(),
        period.end.timestamp_micros(),
        agent_id.map(|id| id.to_string()).unwrap_or_default(),
        project_id.as_deref().unwrap_or_default(),
    );
    let out = state
        .cache
        .get_or_load(&categories::DASHBOARD, &key, || {
            summary_of(&state, tenant_id, period, agent_id, project_id)
        })
        .await?;
    Ok(Json(out))
}

/// The summary of `period`, from the database.
async fn summary_of(
    state: &AppState,
    tenant_id: uuid::Uuid,
    period: reports::Period,
    agent_id: Option<uuid::Uuid>,
    project_id: Option<String>,
) -> Result<CostSummaryOut, ApiError> {
    let groups = cost_reports::summary(
        &state.pool,
        tenant_id,
        period,
        agent_id,
        project_id.as_deref(),
    )
    .await?;
    let mut out = CostSummaryOut {
        total_usd: 0.0,
        by_provider: BTreeMap::new(),
        by_model: BTreeMap::new(),
        by_agent: BTreeMap::new(),
        total_tokens: TokenTotals {
            input: 0,
            output: 0,
        },
        period_start: period.start,
        period_end: period.end,
        timezone: TIMEZONE.into(),
        calls: 0,
        unpriced_calls: 0,
    };
    for group in groups {
        let usd = nanos_to_usd(group.usage.cost_nanos);
        let map = match group.dimension {
            Some(Dimension::Provider) => &mut out.by_provider,
            Some(Dimension::Model) => &mut out.by_model,
            Some(Dimension::Agent) => &mut out.by_agent,
            None => {
                out.total_usd = usd;
                out.total_tokens = TokenTotals {
                    input: group.usage.input_tokens,
                    output: group.usage.output_tokens,
                };
                out.calls = group.usage.calls;
                out.unpriced_calls = group.unpriced_calls;
                continue;
            }
        };
        map.insert(group.key.unwrap_or_default(), usd);
    }
    Ok(out)
}

/// One entry per UTC day of the last `days` (1..=366, default 30), oldest first, today
/// (partial) last, days without spend included.
#[utoipa::path(get, path = "/costs/daily", operation_id = "cost_daily", tag = "costs", security(("bearer" = [])),
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "1..=366, default 30")),
    responses((status = 200, body = [DailyCostOut]), (status = 403), (status = 422)))]
pub async fn daily(call: CountCall) -> ApiResult<Json<Vec<DailyCostOut>>> {
    let days = count_param(call.input.0.days.as_deref(), "days", 1..=366, 30)?;
    let series = series(&call, Bucket::Day, days).await?;
    Ok(Json(series.into_iter().map(DailyCostOut::from).collect()))
}

/// One entry per UTC hour of the last `hours` (1..=720, default 24), oldest first, the
/// current (partial) hour last, hours without spend included.
#[utoipa::path(get, path = "/costs/hourly", operation_id = "cost_hourly", tag = "costs", security(("bearer" = [])),
    params(("hours" = Option<u32>, Query, minimum = 1, maximum = 720, description = "1..=720, default 24")),
    responses((status = 200, body = [HourlyCostOut]), (status = 403), (status = 422)))]
pub async fn hourly(call: CountCall) -> ApiResult<Json<Vec<HourlyCostOut>>> {
    let hours = count_param(call.input.0.hours.as_deref(), "hours", 1..=720, 24)?;
    let series = series(&call, Bucket::Hour, hours).await?;
    Ok(Json(series.into_iter().map(HourlyCostOut::from).collect()))
}

/// A report route's caller with the `days`, `hours` or `top_n` count asked for.
type CountCall = Call<CostsRead, ApiQuery<CountQuery>>;

async fn series(
    call: &CountCall,
    bucket: Bucket,
    count: u32,
) -> ApiResult<Vec<(chrono::DateTime<Utc>, Usage)>> {
    let period = bucket.recent(count, Utc::now());
    let tenant_id = call.principal.tenant_id;
    let sparse = cost_reports::buckets(&call.state.pool, tenant_id, period, bucket).await?;
    Ok(reports::fill_series(period, bucket, sparse))
}

/// Writes a breakdown route: its OpenAPI operation and a handler that reports by `dimension`.
macro_rules! breakdown_route {
    ($(#[$doc:meta])* $name:ident, $path:tt, $operation_id:tt, $dimension:ident) => {
        $(#[$doc])*
        #[utoipa::path(get, path = $path, operation_id = $operation_id, tag = "costs", security(("bearer" = [])),
            params(("top_n" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 10"),
                   ("start_date" = Option<String>, Query), ("end_date" = Option<String>, Query)),
            responses((status = 200, body = [CostBreakdownOut]), (status = 403), (status = 422)))]
        pub async fn $name(call: BreakdownCall) -> ApiResult<Json<Vec<CostBreakdownOut>>> {
            breakdown(call, Dimension::$dimension).await
        }
    };
}

breakdown_route!(
    /// The `top_n` agents (1..=100, default 10) by spend in a period (default: the current UTC
    /// month), most first.
    by_agent, "/costs/by-agent", "cost_by_agent", Agent
);
breakdown_route!(
    /// The `top_n` providers by spend in a period, most first.
    by_provider, "/costs/by-provider", "cost_by_provider", Provider
);
breakdown_route!(
    /// The `top_n` models by spend in a period, most first.
    by_model, "/costs/by-model", "cost_by_model", Model
);

/// A breakdown route's caller with `top_n` and the period asked for.
type BreakdownCall = Call<CostsRead, (ApiQuery<CountQuery>, ApiQuery<PeriodQuery>)>;

async fn breakdown(
    call: BreakdownCall,
    dimension: Dimension,
) -> ApiResult<Json<Vec<CostBreakdownOut>>> {
    let (state, principal, (ApiQuery(count), ApiQuery(period))) = call.into_parts();
    let top_n = count_param(count.top_n.as_deref(), "top_n", 1..=100, 10)?;
    let period = period.period(Utc::now())?;
    let rows = cost_reports::breakdown(
        &state.pool,
        principal.tenant_id,
        period,
        dimension,
        i64::from(top_n),
    )
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(key, usage)| {
                let mut out = CostBreakdownOut::unnamed(usage);
                match dimension {
                    Dimension::Agent => out.agent_id = Some(key),
                    Dimension::Provider => out.provider = Some(key),
                    Dimension::Model => out.model = Some(key),
                }
                out
            })
            .collect(),
    ))
}

/// Spend projected for the next `days` UTC days (1..=90, default 30) from the last 28 full
/// UTC days: trailing daily average × the weekday's factor (its mean ÷ the overall mean).
#[utoipa::path(get, path = "/costs/forecast", operation_id = "cost_forecast", tag = "costs", security(("bearer" = [])),
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 90, description = "1..=90, default 30")),
    responses((status = 200, body = CostForecastOut), (status = 403), (status = 422)))]
pub async fn forecast(call: CountCall) -> ApiResult<Json<CostForecastOut>> {
    let (state, principal, ApiQuery(query)) = call.into_parts();
    let days = count_param(query.days.as_deref(), "days", 1..=90, 30)?;
    let today = Utc::now().date_naive();
    let history = reports::history_period(today);
    let spent = cost_reports::buckets(&state.pool, principal.tenant_id, history, Bucket::Day)
        .await?
        .into_iter()
        .map(|(day, usage)| (day.date_naive(), usage.cost_nanos))
        .collect::<Vec<_>>();
    Ok(Json(reports::forecast(&spent, today, days).into()))
}
