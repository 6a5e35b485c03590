//! `/webhooks/` CRUD and secret rotation: tenant-scoped, soft delete, every change one
//! transaction.

use axum::http::StatusCode;
use axum::response::Response;
use sqlx::PgConnection;
use temponest_auth_client::permissions::WEBHOOKS_MANAGE;
use temponest_platform::access::{WebhooksManage, WebhooksRead};
use temponest_web::extract::list_response;
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, no_store};
use uuid::Uuid;

use crate::db::endpoints::EndpointRow;
use crate::db::{deliveries, endpoints, secrets};
use crate::domain::signing;
use crate::models::{
    DeliveryOutcome, SecretOut, WebhookCreated, WebhookFilter, WebhookIn, WebhookOut, WebhookPatch,
};
use crate::routes::Call;
use crate::state::AppState;

/// Creates an endpoint with its signing secret (returned this once).
#[utoipa::path(post, path = "/webhooks/", operation_id = "create_webhook", tag = "webhooks", request_body = WebhookIn, security(("bearer" = [])),
    responses((status = 201, body = WebhookCreated), (status = 403), (status = 422)))]
pub async fn create(call: Call<WebhooksManage, Json<WebhookIn>>) -> ApiResult<Response> {
    let (state, principal, Json(body)) = call.into_parts();
    let (spec, secret) = body.validate(&state.policy)?;
    let id = Uuid::now_v7();
    let (stored, sealed) = seal(&state, id, &secret)?;
    let mut tx = state.pool.begin().await?;
    let cap = state.config.webhooks.max_endpoints_per_tenant;
    if endpoints::lock_and_count_live(&mut tx, principal.tenant_id).await? >= cap {
        return Err(ApiError::conflict(format!(
            "this tenant already has {cap} webhook endpoints, the most it may have; delete one first"
        )));
    }
    let row = endpoints::insert(&mut tx, id, principal.tenant_id, &spec).await?;
    secrets::insert_current(&mut tx, row.id, &stored, sealed).await?;
    tx.commit().await?;
    // The secret must not be kept by caches or stored by the idempotency layer.
    Ok(no_store((
        StatusCode::CREATED,
        Json(WebhookCreated {
            webhook: WebhookOut::from(row),
            secret: signing::render_secret(&secret),
        }),
    )))
}

/// The caller's tenant's endpoints, newest first.
#[utoipa::path(get, path = "/webhooks/", operation_id = "list_webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("is_active" = Option<bool>, Query)),
    responses((status = 200, body = [WebhookOut], headers(("x-total-count" = i64))), (status = 403)))]
pub async fn list(call: Call<WebhooksRead, ListQuery<WebhookFilter>>) -> ApiResult<Response> {
    let (state, principal, ListQuery { page, filter }) = call.into_parts();
    let tenant = principal.tenant_id;
    let listed = endpoints::list(&state.pool, tenant, filter.is_active, page.skip, page.limit);
    let (rows, total) = listed.await?;
    let can_manage = principal.has_permission(WEBHOOKS_MANAGE);
    let items: Vec<WebhookOut> = rows
        .into_iter()
        .map(|row| WebhookOut::from(row).for_reader(can_manage))
        .collect();
    Ok(list_response(items, total))
}

/// One endpoint.
#[utoipa::path(get, path = "/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 200, body = WebhookOut), (status = 404)))]
pub async fn get(call: Call<WebhooksRead, IdPath>) -> ApiResult<Json<WebhookOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let can_manage = principal.has_permission(WEBHOOKS_MANAGE);
    Ok(Json(
        load(&state, principal.tenant_id, id)
            .await?
            .for_reader(can_manage),
    ))
}

/// Changes the fields sent (the URL is checked again); `is_active: true` also re-enables an
/// endpoint the service disabled.
#[utoipa::path(patch, path = "/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", request_body = WebhookPatch, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 200, body = WebhookOut), (status = 403), (status = 404), (status = 422)))]
pub async fn update(
    call: Call<WebhooksManage, (IdPath, Json<WebhookPatch>)>,
) -> ApiResult<Json<WebhookOut>> {
    let (state, principal, (IdPath(id), Json(patch))) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    let current = WebhookOut::from(lock(&mut tx, principal.tenant_id, id).await?);
    if patch.is_empty() {
        return Ok(Json(current));
    }
    let reactivate = patch.is_active == Some(true);
    let spec = patch.apply(&current, &state.policy)?;
    let row = endpoints::update(&mut tx, principal.tenant_id, id, &spec, reactivate)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    tx.commit().await?;
    Ok(Json(WebhookOut::from(row)))
}

/// Deletes an endpoint: nothing more is delivered to it (unfinished deliveries fail with
/// outcome `endpoint_deleted`); its delivery history remains readable.
#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(call: Call<WebhooksManage, IdPath>) -> ApiResult<StatusCode> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    if !endpoints::soft_delete(&mut tx, principal.tenant_id, id).await? {
        return Err(ApiError::not_found("webhook"));
    }
    deliveries::fail_unfinished(&mut tx, id, DeliveryOutcome::EndpointDeleted).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the previous one keeps signing during the configured grace period
/// (`secret_rotation_grace_secs`), so receivers can switch without losing deliveries.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 200, body = SecretOut), (status = 403), (status = 404)))]
pub async fn rotate_secret(call: Call<WebhooksManage, IdPath>) -> ApiResult<Response> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let secret = signing::new_secret();
    let grace = i64::try_from(state.config.webhooks.secret_rotation_grace_secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .unwrap_or_else(|| chrono::Duration::days(1));
    let (stored, sealed) = seal(&state, id, &secret)?;
    let mut tx = state.pool.begin().await?;
    // The lock serialises concurrent rotations of the same endpoint.
    lock(&mut tx, principal.tenant_id, id).await?;
    secrets::rotate(&mut tx, id, &stored, sealed, chrono::Utc::now() + grace).await?;
    tx.commit().await?;
    Ok(no_store(Json(SecretOut {
        secret: signing::render_secret(&secret),
    })))
}

/// What to store for the endpoint's new secret (sealed when a key is configured).
fn seal(state: &AppState, endpoint_id: Uuid, secret: &[u8]) -> ApiResult<(Vec<u8>, bool)> {
    state
        .sealer
        .store(endpoint_id.as_bytes(), secret)
        .map_err(|err| ApiError::internal(format!("could not seal a webhook secret: {err}")))
}

/// A live endpoint of the tenant, locked for the transaction; 404 if there is none.
async fn lock(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> ApiResult<EndpointRow> {
    endpoints::find_for_update(conn, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// A live and active endpoint of the tenant, locked for the transaction: 404 if there is
/// none, 409 if it is disabled.
pub async fn lock_active(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> ApiResult<EndpointRow> {
    let endpoint = lock(conn, tenant_id, id).await?;
    if !endpoint.is_active {
        return Err(ApiError::conflict("endpoint is disabled"));
    }
    Ok(endpoint)
}

/// A live endpoint of the tenant; 404 if there is none.
pub async fn load(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<WebhookOut> {
    endpoints::find(&state.pool, tenant_id, id)
        .await?
        .map(WebhookOut::from)
        .ok_or_else(|| ApiError::not_found("webhook"))
}
