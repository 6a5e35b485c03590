//! `/openapi.json` and the `/docs` Swagger UI, served from assets embedded in the binary
//! (utoipa-swagger-ui `vendored`), so no network is needed at build or run time.

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Routes serving the given (possibly merged) OpenAPI document.
pub fn router<S: Clone + Send + Sync + 'static>(openapi: OpenApi) -> Router<S> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}

/// Declares the `bearer` security scheme (JWT access token or API key) that every
/// authenticated path of the services refers to. Use as `modifiers(&BearerAuth)`.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("JWT access token or API key (sk_...)"))
                        .build(),
                ),
            );
    }
}
