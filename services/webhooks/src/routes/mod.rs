//! HTTP handlers, one module per resource.

use axum::Router;

use crate::state::AppState;

/// Every route of the service (placeholder until the API lands).
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}
