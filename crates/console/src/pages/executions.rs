//! Executions: the list (filtered by agent and status), one execution in detail (tool
//! calls, tokens, cost, the text), its answer followed live while it runs (the API's SSE
//! stream proxied under the console's cookie), and cancelling it.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::pages::agents::Agent;
use crate::pages::execution_list::{ListFilter, ListQuery, LiveList};
use crate::pages::{page, usd, when, with_outcome};
use crate::web::{Chrome, ConsoleState, Signed, button_route};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/executions", get(list))
        .route("/console/executions/{id}", get(detail))
        .route("/console/executions/{id}/stream", get(stream))
        .route(
            "/console/executions/{id}/cancel",
            button_route(
                Method::POST,
                "/executions/{id}/cancel",
                "/console/executions/{id}",
            ),
        )
}

/// The statuses the API filters by.
pub const STATUSES: [&str; 4] = ["pending", "running", "completed", "failed"];

#[derive(Deserialize)]
pub struct Tokens {
    pub prompt: i64,
    pub completion: i64,
    pub total: i64,
}

/// An execution as the API shows it (the fields the console uses).
#[derive(Deserialize)]
pub struct Execution {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub status: String,
    pub outcome: Option<String>,
    pub user_message: String,
    pub response: Option<String>,
    pub tool_calls: Value,
    pub tokens_used: Tokens,
    pub cost_usd: f64,
    pub execution_time_seconds: Option<f64>,
    pub error: Option<String>,
    pub provider: String,
    pub model: String,
    pub created_at: DateTime<Utc>,
}

/// The status, with the finer outcome when it says more (`failed · cancelled`).
pub fn shown_status(e: &Execution) -> String {
    with_outcome(&e.status, e.outcome.as_deref())
}

#[derive(Template)]
#[template(path = "executions.html")]
struct ListPage {
    chrome: Chrome,
    list: LiveList,
    agents: Vec<(Uuid, String)>,
    filter: ListFilter,
    statuses: [&'static str; 4],
}

impl ListPage {
    fn is_status(&self, status: &str) -> bool {
        self.filter.status == Some(status)
    }

    fn is_agent(&self, id: &Uuid) -> bool {
        self.filter.agent_id.as_ref() == Some(id)
    }
}

/// The newest 50 executions, filtered by agent and status, following them live.
async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let filter = query.parse(50)?;
    let empty = if filter.agent_id.is_some() || filter.status.is_some() {
        "No executions match these filters."
    } else {
        "No executions yet."
    };
    let (list, names) = LiveList::load(&state, &signed, &filter, empty).await?;
    let mut agents: Vec<(Uuid, String)> = names.into_iter().collect();
    agents.sort_by_key(|(_, name)| name.to_lowercase());
    page(&ListPage {
        chrome: Chrome::new(&signed, "executions"),
        list,
        agents,
        filter,
        statuses: STATUSES,
    })
}

/// One tool call as the detail page lists it.
struct ToolCallRow {
    name: String,
    arguments: String,
    outcome: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "execution.html")]
struct DetailPage {
    chrome: Chrome,
    e: Execution,
    agent: String,
    status: String,
    running: bool,
    tool_calls: Vec<ToolCallRow>,
    cost: String,
    duration: String,
    created: String,
}

/// The execution's tool calls (name, arguments, result or error) as rows.
fn tool_calls(calls: &Value) -> Vec<ToolCallRow> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    calls
        .as_array()
        .into_iter()
        .flatten()
        .map(|call| {
            let error = text(call.get("error"));
            ToolCallRow {
                name: text(call.get("tool")),
                arguments: text(call.get("arguments")),
                failed: !error.is_empty(),
                outcome: if error.is_empty() {
                    text(call.get("result"))
                } else {
                    error
                },
            }
        })
        .collect()
}

async fn detail(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let e: Execution = state
        .api
        .get(&signed.cell, &format!("/executions/{id}"))
        .await?;
    let agent = match state
        .api
        .get::<Agent>(&signed.cell, &format!("/agents/{}", e.agent_id))
        .await
    {
        Ok(agent) => agent.name,
        Err(ConsoleError::Api { status: 404, .. }) => format!("{} (deleted)", e.agent_id),
        Err(other) => return Err(other),
    };
    page(&DetailPage {
        chrome: Chrome::new(&signed, "executions"),
        agent,
        status: shown_status(&e),
        running: e.status == "pending" || e.status == "running",
        tool_calls: tool_calls(&e.tool_calls),
        cost: usd(e.cost_usd),
        duration: e
            .execution_time_seconds
            .map_or("–".into(), |s| format!("{s:.2} s")),
        created: when(&e.created_at),
        e,
    })
}

/// The API's stream of the execution (`GET /executions/{id}/stream`), passed through as it
/// arrives; `Last-Event-ID` is forwarded so a reconnecting `EventSource` resumes.
async fn stream(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let mut path = format!("/executions/{id}/stream");
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = last {
        path.push_str(&format!("?last_event_id={n}"));
    }
    let resp = state
        .api
        .send_ok(&signed.cell, Method::GET, &path, None)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(resp.bytes_stream()),
    )
        .into_response())
}
