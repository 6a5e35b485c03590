//! `/api-keys`: create (the key is shown once), list (never the secret), revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use temponest_auth_client::{NoFilter, Principal, PrincipalKind, permissions};
use temponest_cache::categories;
use temponest_platform::access::Authenticated;
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, list_rows};
use uuid::Uuid;

use crate::db::api_keys::{self, NewApiKey};
use crate::db::audit::AuditEvent;
use crate::domain::credentials;
use crate::models::{ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, ValidApiKey};
use crate::routes::Call;
use crate::routes::auth::{current_permissions, require_current};
use crate::routes::client::ClientInfo;
use crate::state::AppState;

/// Creates an API key for the caller. The response is the only time the key is shown.
#[utoipa::path(post, path = "/api-keys", operation_id = "create_api_key", tag = "api-keys", request_body = ApiKeyIn, security(("bearer" = [])),
    responses((status = 201, body = ApiKeyCreatedOut), (status = 403), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
    Json(body): Json<ApiKeyIn>,
) -> ApiResult<Response> {
    principal.require_user("creating API keys")?;
    let held = require_current(&state, &principal, permissions::API_KEYS_MANAGE).await?;
    let ValidApiKey {
        name,
        mut scopes,
        expires_at,
    } = body.validate(&held)?;
    if scopes.is_empty() && matches!(principal.kind, PrincipalKind::ApiKey { .. }) {
        // For a key made by a key, "no scopes" means the creating key's own scopes — never
        // everything its owner may do.
        scopes = held;
    }
    let (key, prefix) = credentials::new_api_key();
    let mut tx = state.pool.begin().await?;
    let row = api_keys::insert(
        &mut tx,
        NewApiKey {
            id: Uuid::now_v7(),
            tenant_id: principal.tenant_id,
            user_id: principal.user_id,
            name: &name,
            prefix: &prefix,
            key_hash: &credentials::digest(&key),
            scopes: &scopes,
            expires_at,
        },
    )
    .await?;
    let details = json!({"api_key_id": row.id, "scopes": scopes});
    client
        .audit(&mut tx, &principal, AuditEvent::ApiKeyCreated, details)
        .await?;
    tx.commit().await?;
    Ok(temponest_web::no_store((
        StatusCode::CREATED,
        Json(ApiKeyCreatedOut {
            key_info: row.into(),
            key,
        }),
    )))
}

/// Lists live keys: all of the tenant's for users who manage users, otherwise the caller's own.
#[utoipa::path(get, path = "/api-keys", operation_id = "list_api_keys", tag = "api-keys", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [ApiKeyOut], headers(("x-total-count" = i64)))))]
pub async fn list(call: Call<Authenticated, ListQuery<NoFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, .. }) = call.into_parts();
    let held = current_permissions(&state, &principal).await?;
    let owner = (!held.contains(&permissions::USERS_MANAGE)).then_some(principal.user_id);
    let tenant = principal.tenant_id;
    let listed = api_keys::list(&state.pool, tenant, owner, page.skip, page.limit);
    Ok(list_rows::<ApiKeyOut, _>(listed.await?))
}

/// Revokes a key; it stops working everywhere within the introspection cache's reach
/// (the cached entry is invalidated on every replica at once).
#[utoipa::path(delete, path = "/api-keys/{id}", operation_id = "revoke_api_key", tag = "api-keys", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "API key id")),
    responses((status = 204), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    principal.require_user("revoking API keys")?;
    let held = require_current(&state, &principal, permissions::API_KEYS_MANAGE).await?;
    let owner = (!held.contains(&permissions::USERS_MANAGE)).then_some(principal.user_id);
    let mut tx = state.pool.begin().await?;
    let hash = api_keys::revoke(&mut tx, principal.tenant_id, id, owner)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    let details = json!({"api_key_id": id});
    client
        .audit(&mut tx, &principal, AuditEvent::ApiKeyRevoked, details)
        .await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(&categories::INTROSPECTION, &hex::encode(hash))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Invalidates cached introspections of the given key hashes.
pub async fn invalidate_key_hashes(state: &AppState, hashes: &[Vec<u8>]) {
    for hash in hashes {
        state
            .cache
            .invalidate(&categories::INTROSPECTION, &hex::encode(hash))
            .await;
    }
}
