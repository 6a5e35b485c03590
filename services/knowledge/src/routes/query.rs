//! `POST /rag/collections/{id}/query`: lexical or hybrid retrieval, cached per collection
//! version.

use axum::extract::State;
use temponest_auth_client::Principal;
use temponest_auth_client::permissions::KNOWLEDGE_READ;
use temponest_web::{ApiError, ApiResult, IdPath, Json};

use crate::db::collections;
use crate::domain::retrieval::{self, RetrievalError};
use crate::models::{QueryIn, QueryOut};
use crate::state::AppState;

/// The chunks of the collection that best match the query (Postgres full-text search over
/// ready documents, fused with vector search when an embedding provider is configured),
/// optionally only those whose metadata contains `filter`. Answers are cached 15 minutes per
/// collection version, so any change is seen at once.
#[utoipa::path(post, path = "/rag/collections/{id}/query", operation_id = "query_collection", tag = "knowledge", request_body = QueryIn, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id")),
    responses((status = 200, body = QueryOut), (status = 403), (status = 404), (status = 422)))]
pub async fn query(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
    Json(body): Json<QueryIn>,
) -> ApiResult<Json<QueryOut>> {
    principal.require(KNOWLEDGE_READ)?;
    let query = body.validate()?;
    let collection = collections::query_target(&state.pool, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("collection"))?;
    let target = retrieval::Target {
        tenant_id: principal.tenant_id,
        collection_id: id,
        version: collection.version,
        embedding_model: collection.embedding_model,
    };
    let retrieved =
        retrieval::retrieve(&state, &target, &query)
            .await
            .map_err(|err| match err {
                RetrievalError::Database(err) => match std::sync::Arc::try_unwrap(err) {
                    Ok(err) => ApiError::from(err),
                    Err(shared) => ApiError::internal(shared.to_string()),
                },
                RetrievalError::Semantic { reason, .. } => ApiError::internal(reason),
            })?;
    Ok(Json(QueryOut::new(id, query.text, retrieved)))
}
