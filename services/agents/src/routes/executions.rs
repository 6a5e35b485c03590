//! Executions: `POST /agents/{id}/execute` (synchronous JSON or an SSE stream),
//! `GET /executions/{id}`, `GET /executions/` (skip, limit, agent_id, status),
//! `POST /executions/{id}/cancel`, `GET /executions/{id}/stream` to follow or resume a
//! stream with `Last-Event-ID`, and `GET /executions/events`, the tenant's executions as they
//! change (see [`crate::domain::execution::feed`]).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use serde_json::json;
use temponest_web::extract::{ApiQuery, list_response};
use temponest_web::filters::filter_param;
use temponest_web::{ApiError, ApiResult, IdPath, Json};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::db::executions::{self, NewExecution};
use crate::domain::execution::events::{self, ExecutionEvent};
use crate::domain::execution::feed::{ExecutionChange, FeedFilter, FeedItem};
use crate::domain::execution::{self, AgentSettings, ExecutionError, ExecutionOutcome, Job};
use crate::domain::runs::Run;
use crate::models::{ExecuteIn, ExecutionChangeOut, ExecutionFilter, ExecutionOut, ValidExecute};
use crate::routes::Call;
use crate::routes::agents::load_agent;
use crate::routes::sse::{done, event_stream, frame};
use crate::state::AppState;
use temponest_platform::access::{AgentsExecute, AgentsRead};
use temponest_web::ListQuery;

/// How often a follower of an execution running in another process looks for new frames.
const REMOTE_POLL: Duration = Duration::from_millis(200);
/// How long one `GET /executions/events` stream lasts before it ends (clients reconnect, as
/// EventSource does on its own): the caller's credentials are checked only when it opens, so a
/// revoked token or API key stops receiving events within this time (the access tokens' own
/// default lifetime).
const FEED_MAX_DURATION: Duration = Duration::from_secs(15 * 60);

/// Runs an agent. `stream: false` waits and returns the execution; `stream: true` answers
/// `text/event-stream` frames `data: {"content": "..."}` (each with an `id:`) ending with
/// `data: [DONE]`; the execution id is in the `X-Execution-Id` header.
#[utoipa::path(post, path = "/agents/{id}/execute", operation_id = "execute_agent", tag = "executions", request_body = ExecuteIn, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "agent id")),
    responses((status = 200, body = ExecutionOut, description = "the finished execution, or an SSE stream when `stream` is true"),
              (status = 402, description = "a budget would be exceeded: the execution failed with outcome `budget_exceeded` before any model call"),
              (status = 403), (status = 404), (status = 422)))]
pub async fn execute(call: Call<AgentsExecute, (IdPath, Json<ExecuteIn>)>) -> ApiResult<Response> {
    let (state, principal, (IdPath(agent_id), Json(body))) = call.into_parts();
    let ValidExecute {
        user_message,
        context,
        stream,
        project_id,
    } = body.validate()?;
    let agent = load_agent(&state, principal.tenant_id, agent_id).await?;
    let id = Uuid::now_v7();
    let mut conn = state.pool.acquire().await?;
    executions::insert_pending(
        &mut conn,
        &NewExecution {
            id,
            tenant_id: principal.tenant_id,
            agent_id,
            user_message: &user_message,
            context: &context,
            stream,
            provider: &agent.provider,
            model: &agent.model,
            owner_id: state.instance_id,
            created_by: principal.user_id,
            project_id: project_id.as_deref(),
        },
    )
    .await?;
    drop(conn);
    let run = state.runs.start(id, principal.tenant_id);
    let job = Job {
        execution_id: id,
        tenant_id: principal.tenant_id,
        agent: AgentSettings::from(&*agent),
        user_message,
        context,
        stream,
        project_id,
    };
    // The run is its own task: it finishes (and is recorded) even if the client goes away.
    let handle = tokio::spawn(execution::run_execution(state.clone(), run.clone(), job));
    if stream {
        return Ok(sse(live_frames(run, 0), id));
    }
    let row = handle
        .await
        .map_err(|e| ApiError::internal(format!("execution task failed: {e}")))??;
    if row.outcome == Some(ExecutionOutcome::BudgetExceeded) {
        // Refused before any model call: the execution is recorded, the client is told why.
        let detail = row.error.unwrap_or_default();
        return Err(
            ApiError::new(StatusCode::PAYMENT_REQUIRED, "budget_exceeded", detail)
                .with_header(HeaderName::from_static("x-execution-id"), header_value(id)),
        );
    }
    let mut response = Json(ExecutionOut::from(row)).into_response();
    response
        .headers_mut()
        .insert("x-execution-id", header_value(id));
    Ok(response)
}

/// One execution of the caller's tenant.
#[utoipa::path(get, path = "/executions/{id}", operation_id = "get_execution", tag = "executions", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "execution id")),
    responses((status = 200, body = ExecutionOut), (status = 404)))]
pub async fn get(call: Call<AgentsRead, IdPath>) -> ApiResult<Json<ExecutionOut>> {
    let IdPath(id) = call.input;
    let row = executions::find(&call.state.pool, call.principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    Ok(Json(row.into()))
}

/// The caller's tenant's executions, newest first.
#[utoipa::path(get, path = "/executions/", operation_id = "list_executions", tag = "executions", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("agent_id" = Option<Uuid>, Query), ("status" = Option<crate::domain::execution::ExecutionStatus>, Query, description = "pending | running | completed | failed")),
    responses((status = 200, body = [ExecutionOut], headers(("x-total-count" = i64))), (status = 422)))]
pub async fn list(call: Call<AgentsRead, ListQuery<ExecutionFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, filter }) = call.into_parts();
    let (agent_id, status) = filter.parse()?;
    let (rows, total) = executions::list(
        &state.pool,
        principal.tenant_id,
        agent_id,
        status,
        page.skip,
        page.limit,
    )
    .await?;
    Ok(list_response(
        rows.into_iter().map(ExecutionOut::from).collect(),
        total,
    ))
}

/// Cancels a pending or running execution: its model call is aborted wherever it runs, and it
/// ends as `status: failed, outcome: cancelled`. 409 if it had already finished.
#[utoipa::path(post, path = "/executions/{id}/cancel", operation_id = "cancel_execution", tag = "executions", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "execution id")),
    responses((status = 200, body = ExecutionOut), (status = 404), (status = 409)))]
pub async fn cancel(call: Call<AgentsExecute, IdPath>) -> ApiResult<Json<ExecutionOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    let reason = format!("cancelled by {}", principal.email);
    let Some(row) = executions::cancel(&mut tx, principal.tenant_id, id, &reason).await? else {
        drop(tx);
        let existing = executions::find(&state.pool, principal.tenant_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("execution"))?;
        return Err(ApiError::conflict(format!(
            "the execution has already finished (status {}, outcome {})",
            existing.status,
            existing.outcome.map_or("unknown", ExecutionOutcome::as_str)
        )));
    };
    events::publish(&mut tx, ExecutionEvent::Failed, &row).await?;
    tx.commit().await?;
    let out = ExecutionOut::from(row);
    // Fast path when it runs here; other processes hear the notification.
    if let Some(run) = state.runs.get(id) {
        run.cancel.cancel();
    }
    Ok(Json(out))
}

/// Follows an execution's stream from the start, or after the frame named by `Last-Event-ID`
/// (header, or `last_event_id` query parameter). Works from any replica: frames come from
/// memory when the execution runs here, else from Postgres.
#[utoipa::path(get, path = "/executions/{id}/stream", operation_id = "stream_execution", tag = "executions", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "execution id"),
           ("Last-Event-ID" = Option<u64>, Header, description = "resume after this frame")),
    responses((status = 200, description = "text/event-stream"), (status = 404), (status = 422)))]
pub async fn stream(
    call: Call<AgentsRead, (IdPath, HeaderMap, ApiQuery<ResumeQuery>)>,
) -> ApiResult<Response> {
    let (state, principal, (IdPath(id), headers, ApiQuery(query))) = call.into_parts();
    let after = last_event_id(&headers, query.last_event_id.as_deref())?;
    if let Some(run) = state
        .runs
        .get(id)
        .filter(|r| r.tenant_id == principal.tenant_id)
    {
        return Ok(sse(live_frames(run, after), id));
    }
    let row = executions::find(&state.pool, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    Ok(sse(
        stored_frames(state, principal.tenant_id, row.id, after),
        id,
    ))
}

/// The caller's tenant's executions as they change, optionally only one agent's and/or those
/// reaching one status (the list's filters): an `execution` event whenever one is created or
/// changes status or totals; a `resync` event when events may have been missed (the
/// subscriber fell behind, or the server's listener reconnected): read the list again. A
/// comment every 15 s keeps an idle connection open. Changes made by any replica arrive. A
/// stream ends after 15 minutes (credentials are checked when it opens): reconnect.
#[utoipa::path(get, path = "/executions/events", operation_id = "execution_events", tag = "executions", security(("bearer" = [])),
    params(("agent_id" = Option<Uuid>, Query), ("status" = Option<crate::domain::execution::ExecutionStatus>, Query, description = "pending | running | completed | failed")),
    responses((status = 200, content_type = "text/event-stream", body = ExecutionChangeOut,
               description = "`event: execution` with `data:` an ExecutionChangeOut; `event: resync` with `data: {\"reason\": \"lagged\" | \"reconnected\"}`"),
              (status = 403), (status = 422)))]
pub async fn changes(call: Call<AgentsRead, ApiQuery<ExecutionFilter>>) -> ApiResult<Response> {
    let (state, principal, ApiQuery(filter)) = call.into_parts();
    let (agent_id, status) = filter.parse()?;
    let filter = FeedFilter {
        tenant_id: principal.tenant_id,
        agent_id,
        status,
    };
    let changes = state.feed.subscribe().await;
    let events = stream::unfold(changes, move |mut changes| async move {
        loop {
            let event = match changes.recv().await {
                Ok(FeedItem::Change(change)) if change.visible_to(&filter) => change_event(&change),
                Ok(FeedItem::Change(_)) => continue,
                Ok(FeedItem::Resync) => resync_event("reconnected"),
                Err(RecvError::Lagged(_)) => resync_event("lagged"),
                Err(RecvError::Closed) => return None,
            };
            return Some((event, changes));
        }
    })
    .take_until(tokio::time::sleep(FEED_MAX_DURATION));
    Ok(event_stream(events))
}

fn change_event(change: &ExecutionChange) -> Event {
    let data = json!(ExecutionChangeOut::from(change)).to_string();
    Event::default().event("execution").data(data)
}

fn resync_event(reason: &str) -> Event {
    Event::default()
        .event("resync")
        .data(json!({ "reason": reason }).to_string())
}

impl From<ExecutionError> for ApiError {
    fn from(err: ExecutionError) -> Self {
        match err {
            ExecutionError::Database(err) => err.into(),
            ExecutionError::NotFound(_) => ApiError::not_found("execution"),
        }
    }
}

/// `?last_event_id=` for clients that cannot set headers (EventSource on reconnect sets it).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ResumeQuery {
    pub last_event_id: Option<String>,
}

fn last_event_id(headers: &HeaderMap, query: Option<&str>) -> ApiResult<usize> {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    match filter_param(header.or(query)) {
        None => Ok(0),
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            ApiError::invalid_field(
                "Last-Event-ID",
                "must be a frame number (a non-negative integer)",
            )
        }),
    }
}

fn sse<S>(frames: S, id: Uuid) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let mut response = event_stream(frames);
    response
        .headers_mut()
        .insert("x-execution-id", header_value(id));
    response
}

fn header_value(id: Uuid) -> HeaderValue {
    HeaderValue::from_str(&id.to_string()).expect("a UUID is a valid header value")
}

/// Frames of a run in this process, live, after frame `after`.
fn live_frames(run: Arc<Run>, after: usize) -> impl Stream<Item = Event> + Send + 'static {
    let progress = run.subscribe();
    stream::unfold(Some((run, progress, after)), |state| async move {
        let (run, mut progress, next) = state?;
        loop {
            let (frames, finished) = run.frames_after(next);
            if !frames.is_empty() {
                let events: Vec<Event> = frames
                    .iter()
                    .enumerate()
                    .map(|(i, data)| frame(next + i + 1, data))
                    .collect();
                let next = next + frames.len();
                return Some((stream::iter(events), Some((run, progress, next))));
            }
            if finished {
                return Some((stream::iter(vec![done(next + 1)]), None));
            }
            if progress.changed().await.is_err() {
                return Some((stream::iter(vec![done(next + 1)]), None));
            }
        }
    })
    .flatten()
}

/// Frames of an execution from Postgres (it ran or runs in another process), after `after`,
/// polling until it has finished.
fn stored_frames(
    state: AppState,
    tenant_id: Uuid,
    id: Uuid,
    after: usize,
) -> impl Stream<Item = Event> + Send + 'static {
    stream::unfold(Some(after), move |cursor| {
        let state = state.clone();
        async move {
            let next = cursor?;
            loop {
                // Read the status first: frames written before it finished are then all visible.
                let row = executions::find(&state.pool, tenant_id, id)
                    .await
                    .ok()
                    .flatten()?;
                let finished = row.status.is_finished();
                let frames = executions::frames_after(&state.pool, id, next as i32)
                    .await
                    .ok()?;
                if !frames.is_empty() {
                    let last = frames.last().map_or(next, |(seq, _)| *seq as usize);
                    let events: Vec<Event> = frames
                        .iter()
                        .map(|(seq, data)| frame(*seq as usize, data))
                        .collect();
                    return Some((stream::iter(events), Some(last)));
                }
                if finished {
                    let mut events = Vec::new();
                    let mut last = next;
                    // A synchronous execution has no frames: its response is one frame.
                    if !row.stream
                        && next == 0
                        && let Some(response) = row.response.filter(|r| !r.is_empty())
                    {
                        last = 1;
                        events.push(frame(1, &json!({ "content": response }).to_string()));
                    }
                    events.push(done(last + 1));
                    return Some((stream::iter(events), None));
                }
                tokio::time::sleep(REMOTE_POLL).await;
            }
        }
    })
    .flatten()
}
