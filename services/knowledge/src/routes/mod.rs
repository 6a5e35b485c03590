//! HTTP handlers, one module per resource.

pub mod collections;
pub mod documents;
pub mod query;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

use crate::state::AppState;

/// Room for the multipart envelope (boundaries, part headers, the metadata field) on top of
/// the largest file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Every route of the service. The upload route alone has a body limit of its own
/// (`knowledge.max_upload_bytes`); the rest keep the server's.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.config.knowledge.max_upload_bytes + MULTIPART_OVERHEAD;
    Router::new()
        .route(
            "/rag/collections",
            post(collections::create).get(collections::list),
        )
        .route(
            "/rag/collections/{id}",
            get(collections::get)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(
            "/rag/collections/{id}/documents",
            post(documents::upload)
                .layer(DefaultBodyLimit::max(upload_limit))
                .get(documents::list),
        )
        .route("/rag/collections/{id}/query", post(query::query))
        .route(
            "/rag/documents/{id}",
            get(documents::get).delete(documents::delete),
        )
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TempoNest knowledge",
        description = "RAG collections, document ingestion and retrieval."
    ),
    paths(
        collections::create,
        collections::list,
        collections::get,
        collections::update,
        collections::delete,
        documents::upload,
        documents::list,
        documents::get,
        documents::delete,
        query::query,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
