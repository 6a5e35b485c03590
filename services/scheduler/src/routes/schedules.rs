//! `/schedules/` CRUD, pause/resume and manual triggers: tenant-scoped, soft delete, every
//! change one transaction that also wakes the engines (`NOTIFY`), so a new or changed
//! schedule is picked up at once.

use axum::http::StatusCode;
use axum::response::Response;
use temponest_auth_client::{PeerError, Principal};
use temponest_outbox::catalogue;
use temponest_platform::access::{AgentsExecute, SchedulesRead, SchedulesWrite};
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, list_rows};
use uuid::Uuid;

use crate::db::{executions, schedules};
use crate::domain::execution::ExecutionTrigger;
use crate::domain::policy::OverlapPolicy;
use crate::domain::{firing, plan};
use crate::models::{ExecutionOut, ScheduleFilter, ScheduleIn, ScheduleOut, SchedulePatch};
use crate::routes::Call;
use crate::state::AppState;

/// A schedule runs its agent: whoever sets one up or fires it must be allowed to run it.
type RunsAgent = (SchedulesWrite, AgentsExecute);

/// Creates a schedule for an agent of the caller's tenant; it fires from its first fire
/// time after now.
#[utoipa::path(post, path = "/schedules/", operation_id = "create_schedule", tag = "schedules", request_body = ScheduleIn, security(("bearer" = [])),
    responses((status = 201, body = ScheduleOut), (status = 403), (status = 404, description = "the agent is not in the caller's tenant"), (status = 422)))]
pub async fn create(
    call: Call<RunsAgent, Json<ScheduleIn>>,
) -> ApiResult<(StatusCode, Json<ScheduleOut>)> {
    let (state, principal, Json(body)) = call.into_parts();
    let now = state.clock.now();
    let spec = body.validate(now)?;
    check_agent(&state, principal.tenant_id, spec.agent_id).await?;
    let next_run = spec.first_run(now);
    let mut tx = state.pool.begin().await?;
    let row = schedules::insert(
        &mut tx,
        Uuid::now_v7(),
        principal.tenant_id,
        principal.user_id,
        &spec,
        next_run,
    )
    .await?;
    schedules::notify(&mut tx).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ScheduleOut::from(row))))
}

/// The caller's tenant's schedules, newest first.
#[utoipa::path(get, path = "/schedules/", operation_id = "list_schedules", tag = "schedules", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("agent_id" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query)),
    responses((status = 200, body = [ScheduleOut], headers(("x-total-count" = i64))), (status = 403)))]
pub async fn list(call: Call<SchedulesRead, ListQuery<ScheduleFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, filter }) = call.into_parts();
    let tenant = principal.tenant_id;
    let ScheduleFilter {
        agent_id,
        is_active,
    } = filter;
    let listed = schedules::list(
        &state.pool,
        tenant,
        agent_id,
        is_active,
        page.skip,
        page.limit,
    );
    Ok(list_rows::<ScheduleOut, _>(listed.await?))
}

/// One schedule.
#[utoipa::path(get, path = "/schedules/{id}", operation_id = "get_schedule", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 200, body = ScheduleOut), (status = 404)))]
pub async fn get(call: Call<SchedulesRead, IdPath>) -> ApiResult<Json<ScheduleOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    schedules::find(&state.pool, principal.tenant_id, id)
        .await?
        .map(|row| Json(ScheduleOut::from(row)))
        .ok_or_else(|| ApiError::not_found("schedule"))
}

/// Changes the fields sent. A new cron expression, interval, time or time zone recomputes
/// `next_run`; `is_active: false` pauses (no fire times while paused, none caught up after),
/// `true` resumes from now.
#[utoipa::path(patch, path = "/schedules/{id}", operation_id = "update_schedule", tag = "schedules", request_body = SchedulePatch, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 200, body = ScheduleOut), (status = 403), (status = 404), (status = 422)))]
pub async fn update(
    call: Call<RunsAgent, (IdPath, Json<SchedulePatch>)>,
) -> ApiResult<Json<ScheduleOut>> {
    let (state, principal, (IdPath(id), Json(patch))) = call.into_parts();
    apply_patch(&state, &principal, id, patch).await.map(Json)
}

/// Pauses a schedule (`is_active: false`).
#[utoipa::path(post, path = "/schedules/{id}/pause", operation_id = "pause_schedule", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 200, body = ScheduleOut), (status = 403), (status = 404)))]
pub async fn pause(call: Call<SchedulesWrite, IdPath>) -> ApiResult<Json<ScheduleOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    set_active(&state, &principal, id, false).await
}

/// Resumes a paused schedule from now (fire times that passed while paused do not run).
#[utoipa::path(post, path = "/schedules/{id}/resume", operation_id = "resume_schedule", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 200, body = ScheduleOut), (status = 403), (status = 404)))]
pub async fn resume(call: Call<RunsAgent, IdPath>) -> ApiResult<Json<ScheduleOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    set_active(&state, &principal, id, true).await
}

/// Pauses (`false`) or resumes (`true`) a schedule.
async fn set_active(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    is_active: bool,
) -> ApiResult<Json<ScheduleOut>> {
    let patch = SchedulePatch {
        is_active: Some(is_active),
        ..SchedulePatch::default()
    };
    apply_patch(state, principal, id, patch).await.map(Json)
}

async fn apply_patch(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    patch: SchedulePatch,
) -> ApiResult<ScheduleOut> {
    if let Some(agent_id) = patch.agent_id {
        check_agent(state, principal.tenant_id, agent_id).await?;
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let current = schedules::find_for_update(&mut tx, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    if patch.is_empty() {
        return Ok(ScheduleOut::from(current));
    }
    let spec = patch.apply(&current, now)?;
    let timing_changed = current.timing().as_ref() != Ok(&spec.timing)
        || spec.timezone != current.timezone
        || spec.is_active != current.is_active;
    let next_run = if timing_changed {
        spec.first_run(now)
    } else {
        current.next_run
    };
    let row = schedules::update(&mut tx, principal.tenant_id, id, &spec, next_run, now)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    schedules::notify(&mut tx).await?;
    tx.commit().await?;
    Ok(ScheduleOut::from(row))
}

/// Deletes a schedule: it stops firing, its queued executions are cancelled (running ones
/// finish); its execution history stays readable for audits until purged.
#[utoipa::path(delete, path = "/schedules/{id}", operation_id = "delete_schedule", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(call: Call<SchedulesWrite, IdPath>) -> ApiResult<StatusCode> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if !schedules::soft_delete(&mut tx, principal.tenant_id, id, now).await? {
        return Err(ApiError::not_found("schedule"));
    }
    executions::cancel_pending(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the schedule's task now (also while paused). The overlap policy applies: with
/// `skip`, a trigger while an execution is unfinished is refused (409); with `buffer_one`,
/// one is queued behind the running one.
#[utoipa::path(post, path = "/schedules/{id}/trigger", operation_id = "trigger_schedule", tag = "schedules", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "schedule id")),
    responses((status = 201, body = ExecutionOut), (status = 403), (status = 404),
              (status = 409, description = "refused by the overlap policy")))]
pub async fn trigger(call: Call<RunsAgent, IdPath>) -> ApiResult<(StatusCode, Json<ExecutionOut>)> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let schedule = schedules::find_for_update(&mut tx, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    let (running, pending) = executions::active_counts(&mut tx, &[id])
        .await?
        .first()
        .map(|(_, r, p)| (*r, *p))
        .unwrap_or((0, 0));
    let overlap = schedule
        .overlap()
        .map_err(|e| ApiError::internal(format!("schedule {id}: {e}")))?;
    if !plan::admits(overlap, running, pending) {
        // Release the schedule's row lock now: a dropped transaction is rolled back only when
        // its connection is next used, and until then the firing engine (`skip locked`) would
        // pass this schedule over.
        tx.rollback().await?;
        return Err(ApiError::conflict(match overlap {
            OverlapPolicy::BufferOne => format!(
                "schedule {id} already has an execution waiting behind a running one (overlap_policy buffer_one)"
            ),
            _ => format!(
                "schedule {id} already has an unfinished execution (overlap_policy skip); wait for it, or set overlap_policy to buffer_one or allow"
            ),
        }));
    }
    let new = firing::new_execution(&schedule, now, ExecutionTrigger::Manual, now);
    executions::insert_many(&mut tx, std::slice::from_ref(&new)).await?;
    schedules::count_manual_run(&mut tx, id).await?;
    temponest_outbox::publish(
        &mut tx,
        principal.tenant_id,
        catalogue::SCHEDULE_TRIGGERED,
        &firing::triggered_event(&new),
    )
    .await?;
    schedules::notify(&mut tx).await?;
    tx.commit().await?;
    let row = executions::find(&state.pool, principal.tenant_id, id, new.id)
        .await?
        .ok_or_else(|| ApiError::internal("the queued execution vanished"))?;
    Ok((StatusCode::CREATED, Json(ExecutionOut::from(row))))
}

/// 404 unless the agent exists in the tenant (asked of the agents service).
async fn check_agent(state: &AppState, tenant: Uuid, agent_id: Uuid) -> ApiResult<()> {
    match state.agents.agent_exists(tenant, agent_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("agent {agent_id} not found in your tenant"),
        )),
        Err(
            PeerError::Unavailable(cause) | PeerError::Rejected(cause) | PeerError::NotFound(cause),
        ) => Err(ApiError::unavailable(format!(
            "cannot verify the agent: {cause}"
        ))),
    }
}
