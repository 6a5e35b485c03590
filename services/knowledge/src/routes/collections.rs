//! `/rag/collections/` CRUD: tenant-scoped; deleting a collection deletes its documents and
//! chunks; every change bumps the collection's version (the key of cached query results).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use temponest_auth_client::permissions::{KNOWLEDGE_READ, KNOWLEDGE_WRITE};
use temponest_auth_client::{ListRequest, Principal};
use temponest_web::extract::list_rows;
use temponest_web::{ApiError, ApiResult, IdPath, Json};
use uuid::Uuid;

use crate::db::{collections, documents};
use crate::models::{CollectionFilter, CollectionIn, CollectionOut, CollectionPatch};
use crate::state::AppState;

/// Creates a collection.
#[utoipa::path(post, path = "/rag/collections/", operation_id = "create_collection", tag = "knowledge", request_body = CollectionIn, security(("bearer" = [])),
    responses((status = 201, body = CollectionOut), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CollectionIn>,
) -> ApiResult<(StatusCode, Json<CollectionOut>)> {
    principal.require(KNOWLEDGE_WRITE)?;
    let spec = body.validate()?;
    let mut tx = state.pool.begin().await?;
    let row = collections::insert(&mut tx, Uuid::now_v7(), principal.tenant_id, &spec).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CollectionOut::from(row))))
}

/// The caller's tenant's collections, newest first.
#[utoipa::path(get, path = "/rag/collections/", operation_id = "list_collections", tag = "knowledge", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("search" = Option<String>, Query, description = "substring of name or description")),
    responses((status = 200, body = [CollectionOut], headers(("x-total-count" = i64))), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    ListRequest {
        principal,
        page,
        filter,
        ..
    }: ListRequest<CollectionFilter>,
) -> ApiResult<Response> {
    principal.require(KNOWLEDGE_READ)?;
    let search = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::invalid_field(
            "search",
            "must be at most 200 characters",
        ));
    }
    let tenant = principal.tenant_id;
    let listed = collections::list(&state.pool, tenant, search, page.skip, page.limit);
    Ok(list_rows::<CollectionOut, _>(listed.await?))
}

/// One collection.
#[utoipa::path(get, path = "/rag/collections/{id}", operation_id = "get_collection", tag = "knowledge", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id")),
    responses((status = 200, body = CollectionOut), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<Json<CollectionOut>> {
    principal.require(KNOWLEDGE_READ)?;
    Ok(Json(load(&state, principal.tenant_id, id).await?))
}

/// Changes the fields sent. A new `chunk_size` or `chunk_overlap` re-chunks every document
/// of the collection (their current chunks are served until the new ones replace them).
#[utoipa::path(patch, path = "/rag/collections/{id}", operation_id = "update_collection", tag = "knowledge", request_body = CollectionPatch, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id")),
    responses((status = 200, body = CollectionOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
    Json(patch): Json<CollectionPatch>,
) -> ApiResult<Json<CollectionOut>> {
    principal.require(KNOWLEDGE_WRITE)?;
    let tenant_id = principal.tenant_id;
    let mut tx = state.pool.begin().await?;
    let current = collections::find_for_update(&mut tx, tenant_id, id)
        .await?
        .map(CollectionOut::from)
        .ok_or_else(|| ApiError::not_found("collection"))?;
    if patch.is_empty() {
        return Ok(Json(current));
    }
    let spec = patch.apply(&current)?;
    let row = collections::update(&mut tx, tenant_id, id, &spec)
        .await?
        .ok_or_else(|| ApiError::not_found("collection"))?;
    if spec.chunk_size != current.chunk_size || spec.chunk_overlap != current.chunk_overlap {
        documents::requeue_collection(&mut tx, tenant_id, id).await?;
    }
    tx.commit().await?;
    state.ingest_wake.notify_one();
    Ok(Json(CollectionOut::from(row)))
}

/// Deletes a collection with its documents and chunks.
#[utoipa::path(delete, path = "/rag/collections/{id}", operation_id = "delete_collection", tag = "knowledge", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    principal.require(KNOWLEDGE_WRITE)?;
    let mut tx = state.pool.begin().await?;
    if !collections::delete(&mut tx, principal.tenant_id, id).await? {
        return Err(ApiError::not_found("collection"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A collection of the tenant; 404 if there is none.
pub async fn load(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<CollectionOut> {
    collections::find(&state.pool, tenant_id, id)
        .await?
        .map(CollectionOut::from)
        .ok_or_else(|| ApiError::not_found("collection"))
}
