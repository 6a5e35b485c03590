//! HTTP handlers, one module per resource.

pub mod deliveries;
pub mod endpoints;
pub mod events;

use axum::Router;
use axum::routing::{get, post};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

use crate::state::AppState;

/// Every route of the service. Static segments (`/webhooks/events`, `/webhooks/deliveries/..`)
/// take precedence over `/webhooks/{id}`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks", post(endpoints::create).get(endpoints::list))
        .route("/webhooks/events", get(events::catalogue))
        .route("/webhooks/deliveries/{id}", get(deliveries::get))
        .route("/webhooks/deliveries/{id}/retry", post(deliveries::retry))
        .route(
            "/webhooks/{id}",
            get(endpoints::get)
                .patch(endpoints::update)
                .delete(endpoints::delete),
        )
        .route(
            "/webhooks/{id}/rotate-secret",
            post(endpoints::rotate_secret),
        )
        .route("/webhooks/{id}/test", post(deliveries::test))
        .route("/webhooks/{id}/deliveries", get(deliveries::list))
        .route("/webhooks/{id}/recover", post(deliveries::recover))
        .route("/events", post(events::publish))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TempoNest webhooks",
        description = "Webhook endpoints, signed deliveries with retries, and application events."
    ),
    paths(
        endpoints::create,
        endpoints::list,
        endpoints::get,
        endpoints::update,
        endpoints::delete,
        endpoints::rotate_secret,
        deliveries::test,
        deliveries::list,
        deliveries::get,
        deliveries::retry,
        deliveries::recover,
        events::catalogue,
        events::publish,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
