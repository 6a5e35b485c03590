//! `/users` (tenant members and their roles) and `/tenants/current`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use temponest_auth_client::permissions::{self, Role};
use temponest_auth_client::{NoFilter, Principal};
use temponest_cache::categories;
use temponest_platform::access::UsersRead;
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, list_rows};
use uuid::Uuid;

use crate::db::audit::AuditEvent;
use crate::db::{api_keys, sessions, users};
use crate::models::{TenantOut, UserCreateIn, UserOut, UserPatch, validate_roles};
use crate::routes::Call;
use crate::routes::auth::{require_current, user_cache_key};
use crate::routes::client::ClientInfo;
use crate::state::AppState;

/// Members of the caller's tenant, newest first.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [UserOut], headers(("x-total-count" = i64))), (status = 403)))]
pub async fn list(call: Call<UsersRead, ListQuery<NoFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, .. }) = call.into_parts();
    let listed = users::list(&state.pool, principal.tenant_id, page.skip, page.limit);
    Ok(list_rows::<UserOut, _>(listed.await?))
}

/// Adds a user with the given roles to the caller's tenant.
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", request_body = UserCreateIn, security(("bearer" = [])),
    responses((status = 201, body = UserOut), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
    Json(body): Json<UserCreateIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    require_current(&state, &principal, permissions::USERS_MANAGE).await?;
    let (user, roles) = body.validate()?;
    let hash = state.hasher.hash(user.password).await?;
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let row = users::insert(
        &mut tx,
        id,
        principal.tenant_id,
        user.email.as_str(),
        user.full_name.as_deref(),
        &hash,
        &roles,
    )
    .await?;
    let details = json!({"target_user_id": id, "roles": roles});
    client
        .audit(&mut tx, &principal, AuditEvent::UserCreated, details)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// One member of the caller's tenant.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "user id")),
    responses((status = 200, body = UserOut), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<Json<UserOut>> {
    if id != principal.user_id {
        principal.require(permissions::USERS_READ)?;
    }
    let row = users::find(&state.pool, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(row.into()))
}

/// Changes roles, active flag or name. Role changes take effect for API keys at once; a
/// change that takes permissions away (or deactivation) also ends the user's sessions, so
/// their access tokens stop working everywhere at once.
#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "users", request_body = UserPatch, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "user id")),
    responses((status = 200, body = UserOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
    IdPath(id): IdPath,
    Json(body): Json<UserPatch>,
) -> ApiResult<Json<UserOut>> {
    require_current(&state, &principal, permissions::USERS_MANAGE).await?;
    let roles = body
        .roles
        .as_deref()
        .map(|r| validate_roles(r, "roles"))
        .transpose()?;
    let full_name = body.full_name.as_deref().map(str::trim);
    if full_name.is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
        return Err(ApiError::invalid_field(
            "full_name",
            "must be 1 to 200 characters",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let admins = users::lock_admins(&mut tx, principal.tenant_id).await?;
    let before = users::find_for_update(&mut tx, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let before_roles = &before.roles;
    let loses_admin = before_roles.contains(&Role::Admin)
        && (roles.as_ref().is_some_and(|r| !r.contains(&Role::Admin))
            || body.is_active == Some(false));
    let other_admins = admins
        .iter()
        .filter(|(admin, active)| *admin != id && *active)
        .count();
    if loses_admin && other_admins == 0 {
        return Err(ApiError::conflict(
            "a tenant must keep at least one active admin",
        ));
    }
    let after = users::update(
        &mut tx,
        principal.tenant_id,
        id,
        roles.as_deref(),
        body.is_active,
        full_name,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("user"))?;
    if after.roles != before.roles {
        let details = json!({"target_user_id": id, "from": before.roles, "to": after.roles});
        client
            .audit(&mut tx, &principal, AuditEvent::RoleChanged, details)
            .await?;
    }
    // Access tokens carry permissions for their whole life: a user who loses any (demoted or
    // deactivated) must sign in again, so no service keeps honouring the old ones.
    let now_granted = permissions::for_roles(&after.roles);
    let demoted = permissions::for_roles(before_roles)
        .iter()
        .any(|p| !now_granted.contains(p));
    let mut ended_sessions = Vec::new();
    if demoted && after.is_active {
        ended_sessions = sessions::live_ids_for_user(&mut tx, id).await?;
        sessions::revoke_all_for_user(&mut tx, id, "demoted").await?;
    }
    if before.is_active && !after.is_active {
        ended_sessions = sessions::live_ids_for_user(&mut tx, id).await?;
        sessions::revoke_all_for_user(&mut tx, id, "deactivated").await?;
        let details = json!({"target_user_id": id});
        client
            .audit(&mut tx, &principal, AuditEvent::UserDeactivated, details)
            .await?;
    }
    let key_hashes = api_keys::hashes_for_user(&mut tx, id).await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(
            &categories::PERMISSIONS,
            &user_cache_key(principal.tenant_id, id),
        )
        .await;
    crate::routes::api_keys::invalidate_key_hashes(&state, &key_hashes).await;
    for session_id in ended_sessions {
        crate::routes::session::forget_session(&state, session_id).await;
    }
    Ok(Json(after.into()))
}

/// The caller's tenant.
#[utoipa::path(get, path = "/tenants/current", operation_id = "get_current_tenant", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = TenantOut), (status = 401)))]
pub async fn current_tenant(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TenantOut>> {
    let tenant = users::tenant(&state.pool, principal.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(tenant.into()))
}
