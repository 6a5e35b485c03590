//! Schedules: the list with each one's next run in the viewer's zone, creating one with a
//! preview of its next five fire times (computed by `temponest_cron`, the scheduler's own
//! rules), pausing, resuming and triggering, and its fire history.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use temponest_scheduler::models::{FireOut, ScheduleOut};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::pages::agents::Agent;
use crate::pages::{page, page_with};
use crate::web::{Button, Chrome, ConsoleState, Posted, Signed};
use crate::zone::ViewerZone;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/schedules", get(list).post(create))
        .route("/console/schedules/new", get(new_form))
        .route("/console/schedules/preview", post(preview))
        .route("/console/schedules/{id}", get(detail))
        .route("/console/schedules/{id}/{action}", post(act))
}

/// How many fire times the preview lists.
const PREVIEW: usize = 5;

struct ScheduleRow {
    id: Uuid,
    name: String,
    agent: String,
    when: String,
    active: bool,
    next_run: String,
    last_run: String,
}

impl ScheduleRow {
    fn new(s: &ScheduleOut, agents: &[(Uuid, String)], zone: ViewerZone) -> Self {
        let when = match (
            s.schedule_type.as_str(),
            &s.cron_expression,
            s.interval_seconds,
            &s.run_at,
        ) {
            (_, Some(cron), _, _) => format!("cron {cron} ({})", s.timezone),
            (_, _, Some(secs), _) => format!("every {secs} s"),
            (_, _, _, Some(at)) => format!("once at {}", zone.show(at)),
            (kind, ..) => kind.to_owned(),
        };
        Self {
            id: s.id,
            name: s.name.clone(),
            agent: agents
                .iter()
                .find(|(id, _)| *id == s.agent_id)
                .map_or_else(|| s.agent_id.to_string(), |(_, n)| n.clone()),
            when,
            active: s.is_active,
            next_run: s.next_run.as_ref().map_or("–".into(), |t| zone.show(t)),
            last_run: s.last_run.as_ref().map_or("never".into(), |t| zone.show(t)),
        }
    }
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct ListPage {
    chrome: Chrome,
    schedules: Vec<ScheduleRow>,
    zone: &'static str,
}

async fn agents(
    state: &ConsoleState,
    signed: &Signed,
) -> Result<Vec<(Uuid, String)>, ConsoleError> {
    let agents: Vec<Agent> = state.api.get(&signed.cell, "/agents?limit=100").await?;
    Ok(agents.into_iter().map(|a| (a.id, a.name)).collect())
}

async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    zone: ViewerZone,
) -> Result<Response, ConsoleError> {
    let (schedules, agents) = futures::try_join!(
        state
            .api
            .get::<Vec<ScheduleOut>>(&signed.cell, "/schedules?limit=100"),
        agents(&state, &signed)
    )?;
    let schedules = schedules
        .iter()
        .map(|s| ScheduleRow::new(s, &agents, zone))
        .collect();
    page(&ListPage {
        chrome: Chrome::new(&signed, "schedules"),
        schedules,
        zone: zone.name(),
    })
}

/// The create form as typed.
#[derive(Deserialize, Default)]
pub struct ScheduleForm {
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    cron_expression: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    message: String,
}

#[derive(Template)]
#[template(path = "schedule_form.html")]
struct FormPage {
    chrome: Chrome,
    agents: Vec<(Uuid, String)>,
    form: ScheduleForm,
    preview: Vec<String>,
    error: Option<String>,
}

impl FormPage {
    fn is_agent(&self, id: &Uuid) -> bool {
        self.form.agent_id == id.to_string()
    }
}

/// The next fire times of `cron` in `timezone`, shown in the viewer's zone and the
/// schedule's own; an invalid expression or zone is the scheduler's own message.
pub fn next_fires(
    cron: &str,
    timezone: &str,
    zone: ViewerZone,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let timezone = if timezone.trim().is_empty() {
        "UTC"
    } else {
        timezone.trim()
    };
    let trigger = temponest_cron::Trigger::cron(cron.trim(), timezone)
        .map_err(|e| format!("{}: {e}", e.field))?;
    let until = now + chrono::Duration::days(366 * 5);
    Ok(trigger
        .fire_times(now, until, PREVIEW)
        .iter()
        .map(|t| zone.show(t))
        .collect())
}

async fn new_form(
    State(state): State<ConsoleState>,
    signed: Signed,
    zone: ViewerZone,
) -> Result<Response, ConsoleError> {
    let form = ScheduleForm {
        timezone: zone.name().to_owned(),
        cron_expression: "0 9 * * 1-5".into(),
        ..ScheduleForm::default()
    };
    show_form(&state, &signed, zone, form, None, StatusCode::OK).await
}

/// The schedule form with `form`'s fields and the preview of its next fire times, with
/// `error` shown (as `status`) — or, without one, the preview's own refusal (422) when the
/// expression or the zone is invalid.
async fn show_form(
    state: &ConsoleState,
    signed: &Signed,
    zone: ViewerZone,
    form: ScheduleForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let agents = agents(state, signed).await?;
    let fires = next_fires(&form.cron_expression, &form.timezone, zone, Utc::now());
    let (preview, error, status) = match (fires, error) {
        (fires, Some(error)) => (fires.unwrap_or_default(), Some(error), status),
        (Ok(times), None) => (times, None, status),
        (Err(why), None) => (Vec::new(), Some(why), StatusCode::UNPROCESSABLE_ENTITY),
    };
    page_with(
        status,
        &FormPage {
            chrome: Chrome::new(signed, "schedules"),
            agents,
            form,
            preview,
            error,
        },
    )
}

async fn preview(
    State(state): State<ConsoleState>,
    zone: ViewerZone,
    posted: Posted<ScheduleForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    show_form(&state, &signed, zone, form, None, StatusCode::OK).await
}

async fn create(
    State(state): State<ConsoleState>,
    zone: ViewerZone,
    posted: Posted<ScheduleForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let mut body = json!({
        "agent_id": form.agent_id.trim(),
        "cron_expression": form.cron_expression.trim(),
        "timezone": if form.timezone.trim().is_empty() { "UTC" } else { form.timezone.trim() },
        "task_config": {"user_message": form.message, "context": {}},
    });
    if !form.name.trim().is_empty() {
        body["name"] = json!(form.name.trim());
    }
    match state
        .api
        .json::<ScheduleOut>(&signed.cell, Method::POST, "/schedules", Some(&body))
        .await
    {
        Ok(created) => {
            Ok(Redirect::to(&format!("/console/schedules/{}", created.id)).into_response())
        }
        Err(err) => {
            let (status, detail) = err.fixable()?;
            show_form(&state, &signed, zone, form, Some(detail), status).await
        }
    }
}

struct FireRow {
    at: String,
    disposition: String,
    status: String,
    execution_id: Option<Uuid>,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct DetailPage {
    chrome: Chrome,
    s: ScheduleRow,
    counts: String,
    upcoming: Vec<String>,
    fires: Vec<FireRow>,
    zone: &'static str,
}

async fn detail(
    State(state): State<ConsoleState>,
    signed: Signed,
    zone: ViewerZone,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let (one, history) = (
        format!("/schedules/{id}"),
        format!("/schedules/{id}/fires?limit=20"),
    );
    let (schedule, fires, agents) = futures::try_join!(
        state.api.get::<ScheduleOut>(&signed.cell, &one),
        state.api.get::<Vec<FireOut>>(&signed.cell, &history),
        agents(&state, &signed)
    )?;
    let upcoming = match (&schedule.cron_expression, schedule.is_active) {
        (Some(cron), true) => {
            next_fires(cron, &schedule.timezone, zone, Utc::now()).unwrap_or_default()
        }
        _ => schedule.next_run.iter().map(|t| zone.show(t)).collect(),
    };
    let fires = fires
        .iter()
        .map(|f| FireRow {
            at: zone.show(&f.fire_time),
            disposition: f.disposition.as_str().to_owned(),
            status: f.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            execution_id: f.execution_id,
        })
        .collect();
    let counts = format!(
        "{} runs · {} skipped · {} missed",
        schedule.run_count, schedule.skipped_count, schedule.missed_count
    );
    page(&DetailPage {
        chrome: Chrome::new(&signed, "schedules"),
        s: ScheduleRow::new(&schedule, &agents, zone),
        counts,
        upcoming,
        fires,
        zone: zone.name(),
    })
}

/// Pause, resume or trigger (`POST /schedules/{id}/{action}`), then back to the schedule.
async fn act(
    State(state): State<ConsoleState>,
    Path((id, action)): Path<(Uuid, String)>,
    button: Button,
) -> Result<Response, ConsoleError> {
    if !matches!(action.as_str(), "pause" | "resume" | "trigger") {
        return Err(ConsoleError::BadInput(
            "the action must be pause, resume or trigger".into(),
        ));
    }
    let (path, then) = (
        format!("/schedules/{id}/{action}"),
        format!("/console/schedules/{id}"),
    );
    button.forward(&state, Method::POST, &path, &then).await
}
