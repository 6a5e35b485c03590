//! Agents: the list (with search), creating, editing and deleting one, and running it — the
//! run starts a streamed execution at the API and the browser is sent to the execution's
//! page, which follows the answer live.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::pages::execution_list::{ListFilter, LiveList};
use crate::pages::{page, page_with, query_value, when};
use crate::web::{Chrome, ConsoleState, Posted, Signed, button_route};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/agents", get(list).post(create))
        .route("/console/agents/new", get(new_form))
        .route("/console/agents/{id}", get(detail).post(update))
        .route(
            "/console/agents/{id}/delete",
            button_route(Method::DELETE, "/agents/{id}", "/console/agents"),
        )
        .route("/console/agents/{id}/run", post(run))
}

/// An agent as the API shows it (the fields the console uses).
#[derive(Deserialize, Clone)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub model: String,
    pub provider: String,
    pub system_prompt: Option<String>,
    pub tools: Vec<String>,
    pub max_iterations: i32,
    pub temperature: f64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct ListPage {
    chrome: Chrome,
    agents: Vec<AgentRow>,
    q: String,
}

struct AgentRow {
    id: Uuid,
    name: String,
    description: String,
    model: String,
    updated: String,
}

async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let q = query.q.unwrap_or_default().trim().to_owned();
    let mut path = "/agents?limit=100".to_owned();
    if !q.is_empty() {
        path.push_str(&format!("&search={}", query_value(&q)));
    }
    let agents: Vec<Agent> = state.api.get(&signed.cell, &path).await?;
    let agents = agents
        .into_iter()
        .map(|a| AgentRow {
            id: a.id,
            name: a.name,
            description: a.description.unwrap_or_default(),
            model: format!("{} · {}", a.provider, a.model),
            updated: when(&a.updated_at),
        })
        .collect();
    page(&ListPage {
        chrome: Chrome::new(&signed, "agents"),
        agents,
        q,
    })
}

/// The fields of the agent form, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct AgentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    max_iterations: String,
    #[serde(default)]
    tools: String,
}

impl AgentForm {
    fn from_agent(agent: &Agent) -> Self {
        Self {
            name: agent.name.clone(),
            description: agent.description.clone().unwrap_or_default(),
            provider: agent.provider.clone(),
            model: agent.model.clone(),
            system_prompt: agent.system_prompt.clone().unwrap_or_default(),
            temperature: agent.temperature.to_string(),
            max_iterations: agent.max_iterations.to_string(),
            tools: agent.tools.join(", "),
        }
    }

    /// The API body: empty optional fields left out (the API's defaults apply); numbers
    /// that do not parse are refused here, naming the field.
    fn body(&self) -> Result<Value, ConsoleError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name.trim()));
        body.insert("model".into(), json!(self.model.trim()));
        let optional = [
            ("description", &self.description),
            ("provider", &self.provider),
            ("system_prompt", &self.system_prompt),
        ];
        for (key, value) in optional {
            if !value.trim().is_empty() {
                body.insert(key.into(), json!(value.trim()));
            }
        }
        if !self.temperature.trim().is_empty() {
            let t: f64 = self.temperature.trim().parse().map_err(|_| {
                ConsoleError::BadInput("temperature must be a number such as 0.7".into())
            })?;
            body.insert("temperature".into(), json!(t));
        }
        if !self.max_iterations.trim().is_empty() {
            let n: i32 = self.max_iterations.trim().parse().map_err(|_| {
                ConsoleError::BadInput("max iterations must be a whole number".into())
            })?;
            body.insert("max_iterations".into(), json!(n));
        }
        let tools: Vec<&str> = self
            .tools
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        body.insert("tools".into(), json!(tools));
        Ok(Value::Object(body))
    }
}

#[derive(Template)]
#[template(path = "agent_form.html")]
struct FormPage {
    chrome: Chrome,
    form: AgentForm,
    error: Option<String>,
}

async fn new_form(signed: Signed) -> Result<Response, ConsoleError> {
    let form = AgentForm {
        provider: "echo".into(),
        model: "echo-1".into(),
        ..AgentForm::default()
    };
    page(&FormPage {
        chrome: Chrome::new(&signed, "agents"),
        form,
        error: None,
    })
}

/// The form shown again with what was wrong, for a refusal the user can fix.
fn refused(chrome: Chrome, form: AgentForm, err: ConsoleError) -> Result<Response, ConsoleError> {
    match err {
        ConsoleError::Api { status, detail } if (400..500).contains(&status) && status != 401 => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            page_with(
                status,
                &FormPage {
                    chrome,
                    form,
                    error: Some(detail),
                },
            )
        }
        ConsoleError::BadInput(detail) => page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage {
                chrome,
                form,
                error: Some(detail),
            },
        ),
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct Created {
    id: Uuid,
}

async fn create(
    State(state): State<ConsoleState>,
    posted: Posted<AgentForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let created = async {
        let body = form.body()?;
        state
            .api
            .json::<Created>(&signed.cell, Method::POST, "/agents", Some(&body))
            .await
    }
    .await;
    match created {
        Ok(agent) => Ok(Redirect::to(&format!("/console/agents/{}", agent.id)).into_response()),
        Err(err) => refused(Chrome::new(&signed, "agents"), form, err),
    }
}

#[derive(Template)]
#[template(path = "agent.html")]
struct DetailPage {
    chrome: Chrome,
    agent: Agent,
    form: AgentForm,
    /// Its newest executions.
    list: LiveList,
    error: Option<String>,
}

async fn detail(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let agent: Agent = state
        .api
        .get(&signed.cell, &format!("/agents/{id}"))
        .await?;
    show(&state, signed, agent, None, StatusCode::OK).await
}

async fn show(
    state: &ConsoleState,
    signed: Signed,
    agent: Agent,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let filter = ListFilter {
        agent_id: Some(agent.id),
        status: None,
        limit: 10,
    };
    let empty = "This agent has not run yet.";
    let (list, _) = LiveList::load(state, &signed, &filter, empty).await?;
    let form = AgentForm::from_agent(&agent);
    page_with(
        status,
        &DetailPage {
            chrome: Chrome::new(&signed, "agents"),
            agent,
            form,
            list,
            error,
        },
    )
}

async fn update(
    State(state): State<ConsoleState>,
    Path(id): Path<Uuid>,
    posted: Posted<AgentForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let updated = async {
        let body = form.body()?;
        state
            .api
            .call(
                &signed.cell,
                Method::PATCH,
                &format!("/agents/{id}"),
                Some(&body),
            )
            .await
    }
    .await;
    match updated {
        Ok(()) => Ok(Redirect::to(&format!("/console/agents/{id}")).into_response()),
        Err(err) => refused(Chrome::new(&signed, "agents"), form, err),
    }
}

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(default)]
    message: String,
}

/// Starts a streamed execution and sends the browser to its page, which follows the
/// stream; the run goes on at the API whether or not anyone follows it.
async fn run(
    State(state): State<ConsoleState>,
    Path(id): Path<Uuid>,
    posted: Posted<RunForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    if form.message.trim().is_empty() {
        let agent: Agent = state
            .api
            .get(&signed.cell, &format!("/agents/{id}"))
            .await?;
        return show(
            &state,
            signed,
            agent,
            Some("Write a message for the agent.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let body = json!({"user_message": form.message, "stream": true});
    let resp = state
        .api
        .send_ok(
            &signed.cell,
            Method::POST,
            &format!("/agents/{id}/execute"),
            Some(&body),
        )
        .await?;
    let execution = resp
        .headers()
        .get("x-execution-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Uuid>().ok())
        .ok_or_else(|| {
            ConsoleError::Unreachable("the API did not name the execution it started".into())
        })?;
    // Dropping the stream here is fine: the execution is a task of its own at the API.
    drop(resp);
    Ok(Redirect::to(&format!("/console/executions/{execution}")).into_response())
}
