//! Collaboration sessions: `POST /collaboration/execute`, `GET /collaboration/sessions/`
//! (skip, limit, pattern, status), `GET /collaboration/sessions/{id}`,
//! `POST /collaboration/sessions/{id}/cancel` and `GET /collaboration/sessions/{id}/stream`
//! (step events as SSE).

use std::collections::HashSet;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use serde_json::json;
use temponest_web::extract::list_response;
use temponest_web::{ApiError, ApiResult, IdPath, Json};
use uuid::Uuid;

use crate::db::collaboration::{self, NewSession};
use crate::db::{agents, executions};
use crate::domain::collaboration::SessionStatus;
use crate::domain::collaboration::events as session_events;
use crate::domain::execution::ExecutionStatus;
use crate::domain::execution::events::{self as execution_events, ExecutionEvent};
use crate::models::{CollaborationIn, SessionFilter, SessionOut, ValidSession};
use crate::routes::{Call, sse};
use crate::state::AppState;
use temponest_platform::access::{AgentsExecute, AgentsRead};
use temponest_web::ListQuery;

/// How often a stream of a session driven by another process looks for progress.
const REMOTE_POLL: Duration = Duration::from_millis(250);

/// Starts a session. With `wait` (default) the answer comes when the session has ended or
/// after `collaboration.wait_timeout_secs` (then `status: running`); with `wait: false` at
/// once (`status: pending` or `running`). Either way 201 with the session; follow it with
/// `GET /collaboration/sessions/{id}` or its `/stream`. A refused request starts nothing.
#[utoipa::path(post, path = "/collaboration/execute", operation_id = "execute_collaboration", tag = "collaboration", request_body = CollaborationIn, security(("bearer" = [])),
    responses((status = 201, body = SessionOut, description = "the session (ended, or still running)"),
              (status = 403), (status = 404, description = "an agent is unknown or belongs to another tenant"), (status = 422)))]
pub async fn execute(call: Call<AgentsExecute, Json<CollaborationIn>>) -> ApiResult<Response> {
    let (state, principal, Json(body)) = call.into_parts();
    let ValidSession { request, wait } = body.validate(state.config.collaboration.max_agents)?;
    let agent_ids = request.plan.agent_ids();
    let unique: Vec<Uuid> = agent_ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found = agents::live_among(&state.pool, principal.tenant_id, &unique).await?;
    let mut missing: Vec<String> = unique
        .iter()
        .filter(|id| !found.iter().any(|a| a.id == **id))
        .map(Uuid::to_string)
        .collect();
    if !missing.is_empty() {
        missing.sort();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("agent not found: {}", missing.join(", ")),
        ));
    }
    let id = Uuid::now_v7();
    let stored = serde_json::to_value(&request)
        .map_err(|e| ApiError::internal(format!("session request: {e}")))?;
    let mut conn = state.pool.acquire().await?;
    collaboration::insert(
        &mut conn,
        &NewSession {
            id,
            tenant_id: principal.tenant_id,
            pattern: request.plan.pattern(),
            agent_ids: &agent_ids,
            request: &stored,
            owner_id: state.instance_id,
            created_by: principal.user_id,
        },
    )
    .await?;
    drop(conn);
    let live = state.sessions.launch(&state, id, principal.tenant_id);
    if wait {
        let limit = Duration::from_secs(state.config.collaboration.wait_timeout_secs);
        let _ = tokio::time::timeout(limit, live.done()).await;
    }
    let session = load(&state, principal.tenant_id, id).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

/// One session of the caller's tenant, with the steps finished so far.
#[utoipa::path(get, path = "/collaboration/sessions/{id}", operation_id = "get_collaboration_session", tag = "collaboration", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "session id")),
    responses((status = 200, body = SessionOut), (status = 404)))]
pub async fn get(call: Call<AgentsRead, IdPath>) -> ApiResult<Json<SessionOut>> {
    let IdPath(id) = call.input;
    Ok(Json(load(&call.state, call.principal.tenant_id, id).await?))
}

/// The caller's tenant's sessions, newest first.
#[utoipa::path(get, path = "/collaboration/sessions/", operation_id = "list_collaboration_sessions", tag = "collaboration", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("pattern" = Option<crate::domain::collaboration::Pattern>, Query, description = "sequential | parallel | iterative | hierarchical"),
           ("status" = Option<SessionStatus>, Query, description = "pending | running | completed | failed")),
    responses((status = 200, body = [SessionOut], headers(("x-total-count" = i64))), (status = 422)))]
pub async fn list(call: Call<AgentsRead, ListQuery<SessionFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, filter }) = call.into_parts();
    let (pattern, status) = filter.parse()?;
    let (rows, total) = collaboration::list(
        &state.pool,
        principal.tenant_id,
        pattern,
        status,
        page.skip,
        page.limit,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let steps = collaboration::steps_of(&state.pool, principal.tenant_id, &ids).await?;
    let sessions = rows
        .into_iter()
        .map(|row| {
            let own = steps
                .iter()
                .filter(|s| s.session_id == row.id)
                .cloned()
                .collect();
            SessionOut::new(row, own)
        })
        .collect();
    Ok(list_response(sessions, total))
}

/// Cancels an unfinished session: no further step starts and its running steps'
/// executions are cancelled (their model calls aborted wherever they run). It ends as
/// `status: failed, outcome: cancelled`. 409 if it had already ended.
#[utoipa::path(post, path = "/collaboration/sessions/{id}/cancel", operation_id = "cancel_collaboration_session", tag = "collaboration", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "session id")),
    responses((status = 200, body = SessionOut), (status = 404), (status = 409)))]
pub async fn cancel(call: Call<AgentsExecute, IdPath>) -> ApiResult<Json<SessionOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let reason = format!("cancelled by {}", principal.email);
    let mut tx = state.pool.begin().await?;
    let Some(row) = collaboration::cancel(&mut tx, principal.tenant_id, id, &reason).await? else {
        drop(tx);
        let existing = load(&state, principal.tenant_id, id).await?;
        return Err(ApiError::conflict(format!(
            "the session has already ended (status {}, outcome {})",
            existing.status,
            existing.outcome.map_or("unknown", |o| o.as_str())
        )));
    };
    let mut cancelled = Vec::new();
    for execution_id in
        collaboration::unfinished_executions(&mut tx, principal.tenant_id, id).await?
    {
        if let Some(execution) =
            executions::cancel(&mut tx, principal.tenant_id, execution_id, &reason).await?
        {
            execution_events::publish(&mut tx, ExecutionEvent::Failed, &execution).await?;
            cancelled.push(execution_id);
        }
    }
    let steps = collaboration::steps_of(&state.pool, principal.tenant_id, &[id]).await?;
    session_events::publish_end(&mut tx, &row, steps).await?;
    tx.commit().await?;
    // Fast path when they run here; other processes hear the executions' notifications.
    for execution_id in cancelled {
        if let Some(run) = state.runs.get(execution_id) {
            run.cancel.cancel();
        }
    }
    if let Some(live) = state.sessions.get(id) {
        live.cancel.cancel();
    }
    Ok(Json(load(&state, principal.tenant_id, id).await?))
}

/// Follows a session as `text/event-stream`: `data: {"type": "step_started" | "step_completed"
/// | "step_failed", "step": {...}}` as steps start and end, then `{"type":
/// "session_completed" | "session_failed", "session": {...}}` and `data: [DONE]`. Each frame
/// has an `id:` sequence number. Works from any replica.
#[utoipa::path(get, path = "/collaboration/sessions/{id}/stream", operation_id = "stream_collaboration_session", tag = "collaboration", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "session id")),
    responses((status = 200, description = "text/event-stream"), (status = 404)))]
pub async fn stream(call: Call<AgentsRead, IdPath>) -> ApiResult<Response> {
    let (state, principal, IdPath(id)) = call.into_parts();
    // 404 before the stream starts.
    load(&state, principal.tenant_id, id).await?;
    Ok(sse::event_stream(session_frames(
        state,
        principal.tenant_id,
        id,
    )))
}

async fn load(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<SessionOut> {
    let row = collaboration::find(&state.pool, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("collaboration session"))?;
    let steps = collaboration::steps_of(&state.pool, tenant_id, &[id]).await?;
    Ok(SessionOut::new(row, steps))
}

/// What a stream has told its client so far.
struct Cursor {
    seq: usize,
    started: HashSet<(String, i32)>,
    ended: HashSet<(String, i32)>,
}

/// The session's step events, read from Postgres whenever this process reports progress
/// (or every [`REMOTE_POLL`] when another process drives it), until it has ended.
fn session_frames(
    state: AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> impl Stream<Item = Event> + Send + 'static {
    let cursor = Cursor {
        seq: 0,
        started: HashSet::new(),
        ended: HashSet::new(),
    };
    stream::unfold(Some(cursor), move |cursor| {
        let state = state.clone();
        async move {
            let mut cursor = cursor?;
            loop {
                let progress = state.sessions.get(id).map(|live| live.subscribe());
                let session = load(&state, tenant_id, id).await.ok()?;
                let mut events = Vec::new();
                for step in &session.results {
                    let key = (step.step_key.clone(), step.attempt);
                    if cursor.started.insert(key.clone()) {
                        events.push(json!({"type": "step_started", "step": step}));
                    }
                    if step.status.is_finished() && cursor.ended.insert(key) {
                        let kind = if step.status == ExecutionStatus::Completed {
                            "step_completed"
                        } else {
                            "step_failed"
                        };
                        events.push(json!({"type": kind, "step": step}));
                    }
                }
                let ended = session.status.is_finished();
                if ended {
                    let kind = if session.status == SessionStatus::Completed {
                        "session_completed"
                    } else {
                        "session_failed"
                    };
                    events.push(json!({"type": kind, "session": session}));
                }
                if !events.is_empty() || ended {
                    let mut frames: Vec<Event> = events
                        .iter()
                        .map(|e| {
                            cursor.seq += 1;
                            sse::frame(cursor.seq, &e.to_string())
                        })
                        .collect();
                    if ended {
                        cursor.seq += 1;
                        frames.push(sse::done(cursor.seq));
                        return Some((stream::iter(frames), None));
                    }
                    return Some((stream::iter(frames), Some(cursor)));
                }
                match progress {
                    Some(mut progress) => {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), progress.changed()).await;
                    }
                    None => tokio::time::sleep(REMOTE_POLL).await,
                }
            }
        }
    })
    .flatten()
}
