//! `/auth/*` account routes: register, me and introspection (sessions live in
//! [`crate::routes::session`]).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use temponest_auth_client::introspect::{IntrospectionRequest, IntrospectionResponse};
use temponest_auth_client::permissions::{Permission, Role};
use temponest_auth_client::{Principal, PrincipalKind};
use temponest_cache::categories;
use temponest_web::{ApiError, ApiResult, Json};
use uuid::Uuid;

use crate::db::audit::{self, AuditEvent};
use crate::db::users;
use crate::models::{RegisterIn, UserOut};
use crate::routes::client::ClientInfo;
use crate::state::AppState;

/// Creates a tenant and its first user, an admin.
#[utoipa::path(post, path = "/auth/register", operation_id = "register", tag = "auth", request_body = RegisterIn,
    responses((status = 201, body = UserOut), (status = 409, description = "email already registered"),
              (status = 422, description = "invalid email, password or name"), (status = 429)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<RegisterIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let (user, tenant_name) = body.validate()?;
    let hash = state.hasher.hash(user.password).await?;
    let (tenant_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = state.pool.begin().await?;
    users::insert_tenant(&mut tx, tenant_id, &tenant_name).await?;
    let row = users::insert(
        &mut tx,
        user_id,
        tenant_id,
        user.email.as_str(),
        user.full_name.as_deref(),
        &hash,
        &[Role::Admin],
    )
    .await?;
    audit::record(
        &mut *tx,
        AuditEvent::Register,
        Some(tenant_id),
        Some(user_id),
        Some(&client.ip),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// The user's current profile (roles and permissions cached 5 min, invalidated on change).
pub async fn load_user(
    state: &AppState,
    tenant_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<UserOut>> {
    let pool = state.pool.clone();
    state
        .cache
        .get_or_load(
            &categories::PERMISSIONS,
            &user_cache_key(tenant_id, user_id),
            || async move {
                Ok::<_, ApiError>(
                    users::find(&pool, tenant_id, user_id)
                        .await?
                        .map(UserOut::from),
                )
            },
        )
        .await
}

/// What the caller may do **now**. An access token carries the permissions its user had when
/// it was issued (up to its 15 min life); routes that change who may do what (users, API keys)
/// must not trust them, or a demoted admin could promote themselves back with the token they
/// still hold. Users are checked against their current roles (the profile cache is
/// invalidated on every change); API keys and service tokens are resolved fresh already.
pub async fn current_permissions(
    state: &AppState,
    principal: &Principal,
) -> ApiResult<Vec<Permission>> {
    match principal.kind {
        PrincipalKind::User { .. } => load_user(state, principal.tenant_id, principal.user_id)
            .await?
            .filter(|user| user.is_active)
            .map(|user| user.permissions)
            .ok_or_else(|| ApiError::unauthorized("this account no longer exists or is disabled")),
        PrincipalKind::ApiKey { .. } | PrincipalKind::Service { .. } => {
            Ok(principal.permissions.clone())
        }
    }
}

/// 403 unless the caller holds `permission` by its current roles ([`current_permissions`]).
pub async fn require_current(
    state: &AppState,
    principal: &Principal,
    permission: Permission,
) -> ApiResult<Vec<Permission>> {
    let held = current_permissions(state, principal).await?;
    if held.contains(&permission) {
        Ok(held)
    } else {
        Err(ApiError::forbidden(format!(
            "missing permission `{permission}`"
        )))
    }
}

/// Cache key of a user's profile.
pub fn user_cache_key(tenant_id: Uuid, user_id: Uuid) -> String {
    format!("{tenant_id}:{user_id}")
}

/// The authenticated user, with tenant, roles and permissions.
#[utoipa::path(get, path = "/auth/me", operation_id = "get_me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401), (status = 403, description = "called with a service token")))]
pub async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<UserOut>> {
    principal.require_user("a user profile")?;
    let mut user = load_user(&state, principal.tenant_id, principal.user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists or is disabled"))?;
    if matches!(principal.kind, PrincipalKind::ApiKey { .. }) {
        // An API key acts with its scopes, not everything its owner may do.
        user.permissions = principal.permissions;
    }
    Ok(Json(user))
}

/// Resolves an API key or access token to the auth context it carries (for services).
#[utoipa::path(post, path = "/auth/introspect", operation_id = "introspect", tag = "auth", request_body = IntrospectionRequest,
    responses((status = 200, description = "`{active, principal}`")))]
pub async fn introspect(
    State(state): State<AppState>,
    Json(body): Json<IntrospectionRequest>,
) -> ApiResult<Json<IntrospectionResponse>> {
    let token = body.token.trim();
    let result = if token.starts_with(temponest_auth_client::API_KEY_PREFIX) {
        state.auth.resolve_api_key(token).await
    } else {
        state.auth.verify_token(token).await
    };
    match result {
        Ok(principal) => Ok(Json(IntrospectionResponse {
            active: true,
            principal: Some(principal),
        })),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Ok(Json(IntrospectionResponse {
            active: false,
            principal: None,
        })),
        Err(err) => Err(err),
    }
}
