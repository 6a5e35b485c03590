//! Budgets: `POST /costs/budget` (permission `costs:manage`) sets the tenant's budget or an
//! agent's, `GET /costs/budget` shows it and `GET /costs/budget/status` (`costs:read`) the
//! current UTC day's and month's spend against it. Enforcement is in
//! [`crate::domain::budgets`].

use temponest_web::extract::ApiQuery;
use temponest_web::{ApiError, ApiResult, Json};

use crate::db::budgets;
use crate::domain::budgets::{current_periods, forget_scopes};
use crate::models::budgets::{BudgetIn, BudgetOut, BudgetQuery, BudgetStatusOut, fraction};
use crate::models::executions::nanos_to_usd;
use crate::routes::Call;
use crate::routes::agents::load_agent;
use temponest_platform::access::{CostsManage, CostsRead};

/// Sets (creates or replaces) the tenant's budget, or an agent's with `agent_id`.
#[utoipa::path(post, path = "/costs/budget", operation_id = "set_budget", tag = "costs", request_body = BudgetIn, security(("bearer" = [])),
    responses((status = 200, body = BudgetOut), (status = 403), (status = 404), (status = 422)))]
pub async fn set(call: Call<CostsManage, Json<BudgetIn>>) -> ApiResult<Json<BudgetOut>> {
    let (state, principal, Json(body)) = call.into_parts();
    let budget = body.validate()?;
    if let Some(agent_id) = budget.agent_id {
        load_agent(&state, principal.tenant_id, agent_id).await?;
    }
    let row = budgets::upsert(
        &state.pool,
        principal.tenant_id,
        budget.agent_id,
        budget.daily_limit_nanos,
        budget.monthly_limit_nanos,
        budget.alert_threshold,
    )
    .await?;
    forget_scopes(&state, principal.tenant_id).await;
    Ok(Json(row.into()))
}

/// The tenant's budget, or an agent's with `agent_id`; 404 when none is set.
#[utoipa::path(get, path = "/costs/budget", operation_id = "get_budget", tag = "costs", security(("bearer" = [])),
    params(("agent_id" = Option<uuid::Uuid>, Query)),
    responses((status = 200, body = BudgetOut), (status = 403), (status = 404)))]
pub async fn get(call: Call<CostsRead, ApiQuery<BudgetQuery>>) -> ApiResult<Json<BudgetOut>> {
    let ApiQuery(query) = call.input;
    let row = budgets::find(&call.state.pool, call.principal.tenant_id, query.agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("budget"))?;
    Ok(Json(row.into()))
}

/// Spend of the current UTC day and month (the tenant's, or an agent's) against its budget.
#[utoipa::path(get, path = "/costs/budget/status", operation_id = "budget_status", tag = "costs", security(("bearer" = [])),
    params(("agent_id" = Option<uuid::Uuid>, Query)),
    responses((status = 200, body = BudgetStatusOut), (status = 403)))]
pub async fn status(
    call: Call<CostsRead, ApiQuery<BudgetQuery>>,
) -> ApiResult<Json<BudgetStatusOut>> {
    let (state, principal, ApiQuery(query)) = call.into_parts();
    let tenant_id = principal.tenant_id;
    let (day, month) = current_periods();
    let daily = budgets::spent_since(&state.pool, tenant_id, query.agent_id, day).await?;
    let monthly = budgets::spent_since(&state.pool, tenant_id, query.agent_id, month).await?;
    let budget = budgets::find(&state.pool, tenant_id, query.agent_id).await?;
    let alerts = match &budget {
        Some(budget) => budgets::alerts(&state.pool, budget.id, day, month).await?,
        None => Vec::new(),
    };
    let daily_limit = budget.as_ref().and_then(|b| b.daily_limit_nanos);
    let monthly_limit = budget.as_ref().and_then(|b| b.monthly_limit_nanos);
    Ok(Json(BudgetStatusOut {
        daily_usage: nanos_to_usd(daily),
        daily_limit: daily_limit.map(nanos_to_usd),
        daily_percentage: fraction(daily, daily_limit),
        monthly_usage: nanos_to_usd(monthly),
        monthly_limit: monthly_limit.map(nanos_to_usd),
        monthly_percentage: fraction(monthly, monthly_limit),
        alerts_triggered: alerts.into_iter().map(Into::into).collect(),
    }))
}
