//! Webhooks: endpoints and the events they subscribe to, creating one (its signing secret
//! shown once), sending a test, its deliveries with each attempt's status and response, and
//! retrying a delivery.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use temponest_webhooks::models::{
    DeliveryDetail, DeliveryOut, DeliveryStatus, WebhookCreated, WebhookOut,
};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::pages::{page, page_with, when, with_outcome};
use crate::web::{Chrome, ConsoleState, Posted, Signed, button_route};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/webhooks", get(list).post(create))
        .route("/console/webhooks/{id}", get(detail))
        .route(
            "/console/webhooks/{id}/test",
            button_route(
                Method::POST,
                "/webhooks/{id}/test",
                "/console/webhooks/{id}",
            ),
        )
        .route("/console/webhooks/deliveries/{id}", get(delivery))
        .route(
            "/console/webhooks/deliveries/{id}/retry",
            button_route(
                Method::POST,
                "/webhooks/deliveries/{id}/retry",
                "/console/webhooks/deliveries/{id}",
            ),
        )
}

/// The endpoint form as typed (`events[]`: the ticked event types).
#[derive(Deserialize, Default)]
pub struct EndpointForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    chrome: Chrome,
    endpoints: Vec<WebhookOut>,
    catalogue: Vec<String>,
    form: EndpointForm,
    error: Option<String>,
}

impl ListPage {
    fn ticked(&self, event: &str) -> bool {
        self.form.events.iter().any(|e| e == event)
    }
}

async fn list_page(
    state: &ConsoleState,
    signed: &Signed,
    form: EndpointForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let (endpoints, catalogue) = futures::try_join!(
        state
            .api
            .get::<Vec<WebhookOut>>(&signed.cell, "/webhooks?limit=100"),
        state
            .api
            .get::<Vec<String>>(&signed.cell, "/webhooks/events")
    )?;
    page_with(
        status,
        &ListPage {
            chrome: Chrome::new(signed, "webhooks"),
            endpoints,
            catalogue,
            form,
            error,
        },
    )
}

async fn list(State(state): State<ConsoleState>, signed: Signed) -> Result<Response, ConsoleError> {
    list_page(
        &state,
        &signed,
        EndpointForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "webhook_created.html")]
struct CreatedPage {
    chrome: Chrome,
    created: WebhookCreated,
}

/// Creates the endpoint and shows its signing secret, this once (the page is `no-store`).
async fn create(
    State(state): State<ConsoleState>,
    posted: Posted<EndpointForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let body = json!({"name": form.name.trim(), "url": form.url.trim(), "events": form.events});
    match state
        .api
        .json::<WebhookCreated>(&signed.cell, Method::POST, "/webhooks", Some(&body))
        .await
    {
        Ok(created) => page_with(
            StatusCode::CREATED,
            &CreatedPage {
                chrome: Chrome::new(&signed, "webhooks"),
                created,
            },
        ),
        Err(err) => {
            let (status, detail) = err.fixable()?;
            list_page(&state, &signed, form, Some(detail), status).await
        }
    }
}

struct DeliveryRow {
    id: Uuid,
    event_type: String,
    status: String,
    response: String,
    attempts: i32,
    created: String,
}

impl DeliveryRow {
    fn new(d: &DeliveryOut) -> Self {
        Self {
            id: d.id,
            event_type: d.event_type.clone(),
            status: with_outcome(d.status.as_str(), d.outcome.map(|o| o.as_str())),
            response: d.response_status.map_or_else(
                || d.error.clone().unwrap_or_else(|| "–".into()),
                |s| s.to_string(),
            ),
            attempts: d.attempt_count,
            created: when(&d.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct DetailPage {
    chrome: Chrome,
    endpoint: WebhookOut,
    deliveries: Vec<DeliveryRow>,
}

async fn detail(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let (one, deliveries) = (
        format!("/webhooks/{id}"),
        format!("/webhooks/{id}/deliveries?limit=50"),
    );
    let (endpoint, deliveries) = futures::try_join!(
        state.api.get::<WebhookOut>(&signed.cell, &one),
        state.api.get::<Vec<DeliveryOut>>(&signed.cell, &deliveries)
    )?;
    let deliveries = deliveries.iter().map(DeliveryRow::new).collect();
    page(&DetailPage {
        chrome: Chrome::new(&signed, "webhooks"),
        endpoint,
        deliveries,
    })
}

struct AttemptRow {
    attempt: i32,
    started: String,
    duration_ms: i32,
    status: String,
    body: String,
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    d: DeliveryRow,
    webhook_id: Uuid,
    attempts: Vec<AttemptRow>,
    retryable: bool,
}

async fn delivery(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let DeliveryDetail {
        delivery: d,
        attempts,
    } = state
        .api
        .get(&signed.cell, &format!("/webhooks/deliveries/{id}"))
        .await?;
    let attempts = attempts
        .iter()
        .map(|a| AttemptRow {
            attempt: a.attempt,
            started: when(&a.started_at),
            duration_ms: a.duration_ms,
            status: a.response_status.map_or_else(
                || a.error.clone().unwrap_or_else(|| "–".into()),
                |s| s.to_string(),
            ),
            body: a.response_body.clone().unwrap_or_default(),
        })
        .collect();
    let retryable = d.status == DeliveryStatus::Failed;
    page(&DeliveryPage {
        chrome: Chrome::new(&signed, "webhooks"),
        d: DeliveryRow::new(&d),
        webhook_id: d.webhook_id,
        attempts,
        retryable,
    })
}
