//! Execution lists that follow the tenant's executions live: the executions page, the
//! overview's recent runs and an agent's recent runs are one [`LiveList`] each.
//!
//! The page renders the rows; the script then opens `GET /console/executions/events` (same
//! filters), which relays the API's `GET /executions/events` under the session's token — the
//! browser never sees it — as ready-made rows: `row` (`{"id", "html"}`, insert or replace)
//! and `gone` (`{"id"}`, it left the list's status filter). On every (re)connect and on the
//! API's `resync` the script re-reads the rows from `GET /console/executions/rows`, so an
//! execution that changed while no stream was open is not missed. Without a script the page
//! is an ordinary list with a refresh link.
//!
//! The relay reads each changed execution with the token the stream was opened with, never
//! refreshing it (the rotated tokens could not reach the cookie of a response already under
//! way); it ends when that token stops working, or after [`RECHECK`], and the browser's
//! reconnection goes through the session again.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::api::ApiClient;
use crate::error::ConsoleError;
use crate::pages::agents::Agent;
use crate::pages::executions::{Execution, STATUSES, shown_status};
use crate::pages::{usd, when};
use crate::sse::take_events;
use crate::web::{ConsoleState, Signed};

/// How long one relayed stream lasts before the browser reconnects through the session.
pub const RECHECK: Duration = Duration::from_secs(300);

/// The most rows a list shows.
const MAX_ROWS: usize = 50;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/executions/events", get(events))
        .route("/console/executions/rows", get(rows))
}

/// A line of an execution list.
pub struct ExecutionRow {
    pub id: Uuid,
    pub agent: String,
    pub status: String,
    pub message: String,
    pub tokens: i64,
    pub cost: String,
    pub duration: String,
    pub created: String,
    /// Creation time in milliseconds: where a new row goes among the shown ones.
    pub created_ms: i64,
}

impl ExecutionRow {
    pub fn new(e: &Execution, agent_names: &HashMap<Uuid, String>) -> Self {
        Self {
            id: e.id,
            agent: agent_names
                .get(&e.agent_id)
                .cloned()
                .unwrap_or_else(|| e.agent_id.to_string()),
            status: shown_status(e),
            message: e.user_message.chars().take(80).collect(),
            tokens: e.tokens_used.total,
            cost: usd(e.cost_usd),
            duration: e
                .execution_time_seconds
                .map_or("–".into(), |s| format!("{s:.2} s")),
            created: when(&e.created_at),
            created_ms: e.created_at.timestamp_millis(),
        }
    }
}

/// A list's filters as the query string has them.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    agent_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
}

/// A list's valid filters and size.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub agent_id: Option<Uuid>,
    pub status: Option<&'static str>,
    pub limit: usize,
}

impl ListQuery {
    /// The filters, or the console's refusal naming the bad one; `limit` defaults to
    /// `default_limit` and is at most 50.
    pub fn parse(self, default_limit: usize) -> Result<ListFilter, ConsoleError> {
        let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let agent_id = given(self.agent_id)
            .map(|id| id.parse::<Uuid>())
            .transpose()
            .map_err(|_| ConsoleError::BadInput("agent must be an agent's id".into()))?;
        let status = match given(self.status) {
            None => None,
            Some(status) => Some(*STATUSES.iter().find(|s| **s == status).ok_or_else(|| {
                ConsoleError::BadInput(format!("status must be one of {}", STATUSES.join(", ")))
            })?),
        };
        let limit = match given(self.limit) {
            None => default_limit,
            Some(limit) => limit
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_ROWS).contains(n))
                .ok_or_else(|| ConsoleError::BadInput(format!("limit must be 1 to {MAX_ROWS}")))?,
        };
        Ok(ListFilter {
            agent_id,
            status,
            limit,
        })
    }
}

impl ListFilter {
    /// The filters as a query string (`agent_id=…&status=…&limit=…`).
    pub fn query(&self) -> String {
        let mut query = format!("limit={}", self.limit);
        if let Some(agent_id) = self.agent_id {
            query.push_str(&format!("&agent_id={agent_id}"));
        }
        if let Some(status) = self.status {
            query.push_str(&format!("&status={status}"));
        }
        query
    }
}

/// A list of executions as a page shows it, ready to follow live.
pub struct LiveList {
    pub rows: Vec<ExecutionRow>,
    /// The console URLs' query ([`ListFilter::query`]).
    pub query: String,
    pub limit: usize,
    /// What the list says while it has no rows.
    pub empty: &'static str,
}

impl LiveList {
    /// The newest executions matching `filter`, and the tenant's agents' names.
    pub async fn load(
        state: &ConsoleState,
        signed: &Signed,
        filter: &ListFilter,
        empty: &'static str,
    ) -> Result<(Self, HashMap<Uuid, String>), ConsoleError> {
        let path = format!("/executions?{}", filter.query());
        let (executions, names) = futures::try_join!(
            state.api.get::<Vec<Execution>>(&signed.cell, &path),
            agent_names(state, signed)
        )?;
        let list = Self {
            rows: executions
                .iter()
                .map(|e| ExecutionRow::new(e, &names))
                .collect(),
            query: filter.query(),
            limit: filter.limit,
            empty,
        };
        Ok((list, names))
    }
}

/// The tenant's agents by id (the first 100), for the rows' agent column.
pub async fn agent_names(
    state: &ConsoleState,
    signed: &Signed,
) -> Result<HashMap<Uuid, String>, ConsoleError> {
    let agents: Vec<Agent> = state.api.get(&signed.cell, "/agents?limit=100").await?;
    Ok(agents.into_iter().map(|a| (a.id, a.name)).collect())
}

#[derive(Template)]
#[template(path = "execution_rows.html")]
struct RowsFragment {
    rows: Vec<ExecutionRow>,
}

#[derive(Template)]
#[template(path = "execution_row.html")]
struct RowFragment {
    r: ExecutionRow,
}

/// The rows of a list (`<tr>` elements only), for the script's re-read.
async fn rows(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let filter = query.parse(MAX_ROWS)?;
    let (list, _) = LiveList::load(&state, &signed, &filter, "").await?;
    Ok(Html(RowsFragment { rows: list.rows }.render()?).into_response())
}

/// The API's execution events for the list with these filters, relayed as rendered rows.
async fn events(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let filter = query.parse(MAX_ROWS)?;
    // The status filter is applied here: a row that leaves it is announced as `gone`.
    let mut path = "/executions/events".to_owned();
    if let Some(agent_id) = filter.agent_id {
        path.push_str(&format!("?agent_id={agent_id}"));
    }
    // Opened through the session: a 401 here may still refresh (this response carries the
    // renewed cookie).
    let upstream = state
        .api
        .send_ok(&signed.cell, Method::GET, &path, None)
        .await?;
    let names = agent_names(&state, &signed).await?;
    let token = signed
        .cell
        .get()
        .ok_or(ConsoleError::SignedOut)?
        .access_token;
    let relay = Relay {
        api: state.api.clone(),
        token,
        status: filter.status,
        names,
        upstream: Box::pin(upstream.bytes_stream()),
        buffer: Vec::new(),
        ready: VecDeque::new(),
    };
    let events = stream::unfold(relay, |mut relay| async move {
        let event = relay.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), relay))
    })
    .take_until(tokio::time::sleep(RECHECK));
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// What the API's stream says of an execution.
#[derive(Deserialize)]
struct Change {
    id: Uuid,
    status: String,
}

/// The state of one relayed stream.
struct Relay {
    api: ApiClient,
    token: String,
    status: Option<&'static str>,
    names: HashMap<Uuid, String>,
    upstream: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: Vec<u8>,
    ready: VecDeque<crate::sse::SseEvent>,
}

impl Relay {
    /// The next event for the browser; None when the API's stream ended or the token no
    /// longer reads executions (the browser reconnects through the session).
    async fn next(&mut self) -> Option<Event> {
        loop {
            let Some(upstream) = self.ready.pop_front() else {
                let chunk = self.upstream.next().await?.ok()?;
                self.buffer.extend_from_slice(&chunk);
                self.ready.extend(take_events(&mut self.buffer));
                continue;
            };
            match upstream.kind.as_str() {
                "resync" => return Some(Event::default().event("resync").data("{}")),
                "execution" => {}
                _ => continue,
            }
            let Ok(change) = serde_json::from_str::<Change>(&upstream.data) else {
                continue;
            };
            if self.status.is_some_and(|s| s != change.status) {
                let gone = json!({ "id": change.id }).to_string();
                return Some(Event::default().event("gone").data(gone));
            }
            match self.row(change.id).await {
                Ok(Some(html)) => {
                    let row = json!({ "id": change.id, "html": html }).to_string();
                    return Some(Event::default().event("row").data(row));
                }
                Ok(None) => continue,
                Err(err) => {
                    tracing::debug!(error = %err, "console: live list relay ends");
                    return None;
                }
            }
        }
    }

    /// The execution's row as the list renders it; None when it is gone (deleted meanwhile).
    async fn row(&mut self, id: Uuid) -> Result<Option<String>, ConsoleError> {
        let execution: Execution = match self
            .api
            .get_as(&self.token, &format!("/executions/{id}"))
            .await
        {
            Ok(execution) => execution,
            Err(ConsoleError::Api { status: 404, .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        if !self.names.contains_key(&execution.agent_id) {
            let path = format!("/agents/{}", execution.agent_id);
            if let Ok(agent) = self.api.get_as::<Agent>(&self.token, &path).await {
                self.names.insert(agent.id, agent.name);
            }
        }
        let r = ExecutionRow::new(&execution, &self.names);
        Ok(Some(RowFragment { r }.render()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(agent_id: &str, status: &str, limit: &str) -> ListQuery {
        let given = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        ListQuery {
            agent_id: given(agent_id),
            status: given(status),
            limit: given(limit),
        }
    }

    #[test]
    fn list_filters_are_checked_and_written_back_as_a_query() {
        let agent = Uuid::nil();
        let filter = query(&agent.to_string(), " running ", "")
            .parse(10)
            .unwrap();
        assert_eq!(
            filter.query(),
            format!("limit=10&agent_id={agent}&status=running")
        );
        assert_eq!(query("", "", "50").parse(10).unwrap().query(), "limit=50");
        for (bad, needle) in [
            (query("x", "", ""), "agent"),
            (query("", "cancelled", ""), "status must be one of pending"),
            (query("", "", "51"), "limit"),
            (query("", "", "0"), "limit"),
        ] {
            let err = bad.parse(10).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
