//! `/agents/` CRUD: tenant-scoped, names unique per tenant, soft delete, configuration cached
//! (5 min, invalidated on change on every replica), every change published to the outbox in
//! the same transaction.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use temponest_auth_client::PeerError;
use temponest_cache::categories;
use temponest_outbox::catalogue;
use temponest_web::extract::encoded_list_response;
use temponest_web::{ApiError, ApiResult, Encoded, IdPath, Json};
use uuid::Uuid;

use crate::db::{agents, budgets};
use crate::models::agents::MAX_COLLECTIONS;
use crate::models::{AgentFilter, AgentIn, AgentOut, AgentPatch};
use crate::routes::Call;
use crate::state::AppState;
use temponest_platform::access::{AgentsRead, AgentsWrite};
use temponest_web::ListQuery;

/// Creates an agent in the caller's tenant.
#[utoipa::path(post, path = "/agents/", operation_id = "create_agent", tag = "agents", request_body = AgentIn, security(("bearer" = [])),
    responses((status = 201, body = AgentOut), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    call: Call<AgentsWrite, Json<AgentIn>>,
) -> ApiResult<(StatusCode, Json<AgentOut>)> {
    let (state, principal, Json(body)) = call.into_parts();
    let spec = body.validate(&state.known(), &state.config.default_provider)?;
    check_collections(&state, principal.tenant_id, &spec.rag_collection_ids).await?;
    let mut tx = state.pool.begin().await?;
    let row = agents::insert(
        &mut tx,
        Uuid::now_v7(),
        principal.tenant_id,
        principal.user_id,
        &spec,
    )
    .await?;
    let agent = AgentOut::from(row);
    // Nothing can have cached the new id; only the tenant's list pages change.
    let change = (catalogue::AGENT_CREATED, json!(agent), None);
    commit_change(&state, tx, agent.tenant_id, change).await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// The caller's tenant's agents, newest first.
#[utoipa::path(get, path = "/agents/", operation_id = "list_agents", tag = "agents", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("search" = Option<String>, Query, description = "substring of name or description")),
    responses((status = 200, body = [AgentOut], headers(("x-total-count" = i64))), (status = 403)))]
pub async fn list(call: Call<AgentsRead, ListQuery<AgentFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, filter }) = call.into_parts();
    let search = filter.parse()?;
    let tenant_id = principal.tenant_id;
    let (skip, limit) = (page.skip, page.limit);
    let load = |search: Option<String>| {
        let pool = state.pool.clone();
        async move {
            let (rows, total) =
                agents::list(&pool, tenant_id, search.as_deref(), skip, limit).await?;
            let items: Vec<AgentOut> = rows.into_iter().map(AgentOut::from).collect();
            Ok::<_, ApiError>((Encoded::new(items)?, total))
        }
    };
    // Unfiltered pages are cached per tenant (as their JSON, see `Encoded`) and dropped
    // together on any change (on every replica); searches (an unbounded key space) go to
    // Postgres.
    let (items, total) = match search {
        Some(search) => load(Some(search.to_owned())).await?,
        None => {
            state
                .cache
                .get_or_load_in(
                    &categories::AGENT_CONFIG,
                    &agents_namespace(tenant_id),
                    &format!("list:{skip}:{limit}"),
                    || load(None),
                )
                .await?
        }
    };
    Ok(encoded_list_response(items, total))
}

/// One agent (served from the agent-configuration cache).
#[utoipa::path(get, path = "/agents/{id}", operation_id = "get_agent", tag = "agents", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "agent id")),
    responses((status = 200, body = AgentOut), (status = 404)))]
pub async fn get(call: Call<AgentsRead, IdPath>) -> ApiResult<Encoded<AgentOut>> {
    let IdPath(id) = call.input;
    load_agent(&call.state, call.principal.tenant_id, id).await
}

/// Changes the fields sent; `null` clears optional fields.
#[utoipa::path(patch, path = "/agents/{id}", operation_id = "update_agent", tag = "agents", request_body = AgentPatch, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "agent id")),
    responses((status = 200, body = AgentOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    call: Call<AgentsWrite, (IdPath, Json<AgentPatch>)>,
) -> ApiResult<Json<AgentOut>> {
    let (state, principal, (IdPath(id), Json(patch))) = call.into_parts();
    // Checked before the row is locked (a call to another service); more ids than allowed
    // are refused by `apply` without asking.
    if let Some(Some(ids)) = &patch.rag_collection_ids
        && ids.len() <= MAX_COLLECTIONS
    {
        check_collections(&state, principal.tenant_id, ids).await?;
    }
    let mut tx = state.pool.begin().await?;
    let current = agents::find_for_update(&mut tx, principal.tenant_id, id)
        .await?
        .map(AgentOut::from)
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if patch.is_empty() {
        return Ok(Json(current));
    }
    let spec = patch.apply(&current, &state.known())?;
    let row = agents::update(&mut tx, principal.tenant_id, id, &spec)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let agent = AgentOut::from(row);
    let change = (catalogue::AGENT_UPDATED, json!(agent), Some(id));
    commit_change(&state, tx, agent.tenant_id, change).await?;
    Ok(Json(agent))
}

/// Soft-deletes an agent: it disappears from the API, its executions and costs remain.
#[utoipa::path(delete, path = "/agents/{id}", operation_id = "delete_agent", tag = "agents", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "agent id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(call: Call<AgentsWrite, IdPath>) -> ApiResult<StatusCode> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    if !agents::soft_delete(&mut tx, principal.tenant_id, id).await? {
        return Err(ApiError::not_found("agent"));
    }
    budgets::delete_of_agent(&mut tx, principal.tenant_id, id).await?;
    let data = json!({"id": id, "tenant_id": principal.tenant_id});
    let change = (catalogue::AGENT_DELETED, data, Some(id));
    commit_change(&state, tx, principal.tenant_id, change).await?;
    crate::domain::budgets::forget_scopes(&state, principal.tenant_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A live agent of the tenant, from the cache or Postgres; 404 if there is none.
pub async fn load_agent(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> ApiResult<Encoded<AgentOut>> {
    let pool = state.pool.clone();
    state
        .cache
        .get_or_load(
            &categories::AGENT_CONFIG,
            &agent_cache_key(tenant_id, id),
            || async move {
                agents::find(&pool, tenant_id, id)
                    .await?
                    .map(|row| Encoded::new(AgentOut::from(row)))
                    .transpose()
                    .map_err(ApiError::from)
            },
        )
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Publishes an agent change (its event, the event's data, and the id of the agent whose cached
/// configuration it makes stale, if any) in the change's transaction and commits it; then
/// drops that configuration and the tenant's cached list pages (on every replica).
async fn commit_change(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    tenant_id: Uuid,
    (event, data, stale): (&str, serde_json::Value, Option<Uuid>),
) -> ApiResult<()> {
    temponest_outbox::publish(&mut tx, tenant_id, event, &data).await?;
    tx.commit().await?;
    if let Some(id) = stale {
        state
            .cache
            .invalidate(&categories::AGENT_CONFIG, &agent_cache_key(tenant_id, id))
            .await;
    }
    invalidate_lists(state, tenant_id).await;
    Ok(())
}

/// Cache namespace of a tenant's cached agent lists.
fn agents_namespace(tenant_id: Uuid) -> String {
    format!("agents:{tenant_id}")
}

/// Drops every cached list page of the tenant (on every replica).
async fn invalidate_lists(state: &AppState, tenant_id: Uuid) {
    state
        .cache
        .invalidate_namespace(&categories::AGENT_CONFIG, &agents_namespace(tenant_id))
        .await;
}

/// Cache key of an agent's configuration (tenant-qualified: a cached entry can never be read
/// through another tenant).
pub fn agent_cache_key(tenant_id: Uuid, id: Uuid) -> String {
    format!("{tenant_id}:{id}")
}

/// Refuses `rag_collection_ids` that are not collections of the tenant at the knowledge
/// service (422 naming them), any when knowledge is not configured (422), and answers 503 when
/// the knowledge service cannot tell. An empty list asks nothing.
async fn check_collections(state: &AppState, tenant_id: Uuid, ids: &[Uuid]) -> ApiResult<()> {
    use futures::StreamExt;

    if ids.is_empty() {
        return Ok(());
    }
    let Some(knowledge) = &state.knowledge else {
        return Err(ApiError::invalid_field(
            "rag_collection_ids",
            "knowledge collections cannot be used: the knowledge service is not configured (TEMPONEST_KNOWLEDGE_URL)",
        ));
    };
    let mut unique: Vec<Uuid> = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let answers: Vec<(Uuid, Result<bool, PeerError>)> = futures::stream::iter(unique)
        .map(|id| async move { (id, knowledge.collection_exists(tenant_id, id).await) })
        .buffered(8)
        .collect()
        .await;
    let mut unknown = Vec::new();
    for (id, answer) in answers {
        match answer {
            Ok(true) => {}
            Ok(false) => unknown.push(id.to_string()),
            Err(err) => {
                tracing::warn!(error = %err, "could not check an agent's knowledge collections");
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the knowledge service could not be reached to check rag_collection_ids; retry shortly",
                )
                .with_header(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                ));
            }
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "rag_collection_ids",
            format!(
                "not a knowledge collection of this tenant: {}",
                unknown.join(", ")
            ),
        ))
    }
}
