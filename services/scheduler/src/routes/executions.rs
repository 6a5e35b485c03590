//! A schedule's executions and fire history.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use temponest_auth_client::NoFilter;
use temponest_platform::access::{AgentsRead, SchedulesRead};
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, list_rows};
use uuid::Uuid;

use crate::db::{executions, fires, schedules};
use crate::models::{ExecutionFilter, ExecutionOut, FireOut};
use crate::routes::Call;
use crate::state::AppState;

/// Executions carry the agent's answers.
type ReadsExecutions = (SchedulesRead, AgentsRead);

/// A schedule's executions, newest first.
#[utoipa::path(get, path = "/schedules/{id}/executions", operation_id = "list_schedule_executions", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id"),
           ("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("status" = Option<crate::domain::execution::ExecutionStatus>, Query, description = "pending | running | completed | failed")),
    responses((status = 200, body = [ExecutionOut], headers(("x-total-count" = i64))), (status = 404), (status = 422)))]
pub async fn list(
    call: Call<ReadsExecutions, (IdPath, ListQuery<ExecutionFilter>)>,
) -> ApiResult<Response> {
    let (state, principal, (IdPath(id), ListQuery { page, filter })) = call.into_parts();
    let status = filter.status()?;
    let tenant = principal.tenant_id;
    ensure_schedule(&state, tenant, id).await?;
    let listed = executions::list(&state.pool, tenant, id, status, page.skip, page.limit);
    Ok(list_rows::<ExecutionOut, _>(listed.await?))
}

/// Two UUID path parameters; anything else is a 404.
pub struct TwoIds(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TwoIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("resource"))?;
        match (Uuid::parse_str(&a), Uuid::parse_str(&b)) {
            (Ok(a), Ok(b)) => Ok(TwoIds(a, b)),
            _ => Err(ApiError::not_found("resource")),
        }
    }
}

/// One execution of a schedule.
#[utoipa::path(get, path = "/schedules/{id}/executions/{execution_id}", operation_id = "get_schedule_execution", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id"), ("execution_id" = uuid::Uuid, Path, description = "execution id (of this schedule)")),
    responses((status = 200, body = ExecutionOut), (status = 404)))]
pub async fn get(call: Call<ReadsExecutions, TwoIds>) -> ApiResult<Json<ExecutionOut>> {
    let (state, principal, TwoIds(schedule_id, id)) = call.into_parts();
    executions::find(&state.pool, principal.tenant_id, schedule_id, id)
        .await?
        .map(|row| Json(ExecutionOut::from(row)))
        .ok_or_else(|| ApiError::not_found("execution"))
}

/// Every fire time of the schedule, latest first: executed, skipped (overlap policy) or
/// missed (downtime).
#[utoipa::path(get, path = "/schedules/{id}/fires", operation_id = "list_schedule_fires", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id"),
           ("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [FireOut], headers(("x-total-count" = i64))), (status = 404)))]
pub async fn fires(
    call: Call<SchedulesRead, (IdPath, ListQuery<NoFilter>)>,
) -> ApiResult<Response> {
    let (state, principal, (IdPath(id), ListQuery { page, .. })) = call.into_parts();
    let tenant = principal.tenant_id;
    ensure_schedule(&state, tenant, id).await?;
    let listed = fires::history(&state.pool, tenant, id, page.skip, page.limit);
    Ok(list_rows::<FireOut, _>(listed.await?))
}

async fn ensure_schedule(state: &AppState, tenant: Uuid, id: Uuid) -> ApiResult<()> {
    schedules::find(&state.pool, tenant, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("schedule"))
}
