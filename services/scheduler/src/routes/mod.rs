//! HTTP handlers, one module per resource.

pub mod executions;
pub mod schedules;

use axum::Router;
use axum::routing::{get, post};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

use crate::state::AppState;

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/schedules", post(schedules::create).get(schedules::list))
        .route(
            "/schedules/{id}",
            get(schedules::get)
                .patch(schedules::update)
                .delete(schedules::delete),
        )
        .route("/schedules/{id}/trigger", post(schedules::trigger))
        .route("/schedules/{id}/pause", post(schedules::pause))
        .route("/schedules/{id}/resume", post(schedules::resume))
        .route("/schedules/{id}/executions", get(executions::list))
        .route(
            "/schedules/{id}/executions/{execution_id}",
            get(executions::get),
        )
        .route("/schedules/{id}/fires", get(executions::fires))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TempoNest scheduler",
        description = "Cron, interval and one-shot schedules that run agents: exactly once per fire time, on any number of replicas."
    ),
    paths(
        schedules::create,
        schedules::list,
        schedules::get,
        schedules::update,
        schedules::delete,
        schedules::trigger,
        schedules::pause,
        schedules::resume,
        executions::list,
        executions::get,
        executions::fires,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
