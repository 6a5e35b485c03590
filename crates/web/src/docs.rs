//! `/openapi.json` and the `/docs` Swagger UI, served from assets embedded in the binary
//! (utoipa-swagger-ui `vendored`), so no network is needed at build or run time.

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Routes serving the given (possibly merged) OpenAPI document.
pub fn router<S: Clone + Send + Sync + 'static>(openapi: OpenApi) -> Router<S> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}
