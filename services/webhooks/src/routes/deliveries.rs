//! Deliveries: test deliveries, an endpoint's delivery log, one delivery with its attempts,
//! manual retry and bulk recovery of failed deliveries.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use temponest_outbox::catalogue::WEBHOOK_TEST;
use temponest_platform::access::{WebhooksManage, WebhooksRead};
use temponest_web::filters::named_param;
use temponest_web::{ApiError, ApiResult, IdPath, Json, ListQuery, list_rows};
use uuid::Uuid;

use crate::db::deliveries::{self as db, RetryBlock};
use crate::models::DeliveryStatus;
use crate::models::{
    AttemptOut, DeliveryDetail, DeliveryFilter, DeliveryOut, RecoverIn, Recovered,
};
use crate::routes::Call;
use crate::routes::endpoints::{load, lock_active};

/// Queues a `webhook.test` delivery to the endpoint (the sender picks it up at once).
#[utoipa::path(post, path = "/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 201, body = DeliveryOut), (status = 403), (status = 404), (status = 409)))]
pub async fn test(
    call: Call<WebhooksManage, IdPath>,
) -> ApiResult<(StatusCode, Json<DeliveryOut>)> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    lock_active(&mut tx, principal.tenant_id, id).await?;
    let payload = json!({
        "webhook_id": id,
        "message": "This is a test delivery from TempoNest.",
    });
    let row = db::insert_pending(
        &mut tx,
        principal.tenant_id,
        id,
        Uuid::now_v7(),
        WEBHOOK_TEST,
        &payload,
    )
    .await?;
    db::wake_senders(&mut tx).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(DeliveryOut::from(row))))
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id"),
           ("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("status" = Option<DeliveryStatus>, Query, description = "pending | success | failed | retrying")),
    responses((status = 200, body = [DeliveryOut], headers(("x-total-count" = i64))), (status = 404), (status = 422)))]
pub async fn list(
    call: Call<WebhooksRead, (IdPath, ListQuery<DeliveryFilter>)>,
) -> ApiResult<Response> {
    let (state, principal, (IdPath(id), ListQuery { page, filter })) = call.into_parts();
    let status: Option<DeliveryStatus> = named_param("status", filter.status.as_deref())?;
    let tenant = principal.tenant_id;
    load(&state, tenant, id).await?;
    let listed = db::list_for_endpoint(&state.pool, tenant, id, status, page.skip, page.limit);
    Ok(list_rows::<DeliveryOut, _>(listed.await?))
}

/// One delivery with every attempt.
#[utoipa::path(get, path = "/webhooks/deliveries/{id}", operation_id = "get_delivery", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "delivery id")),
    responses((status = 200, body = DeliveryDetail), (status = 404)))]
pub async fn get(call: Call<WebhooksRead, IdPath>) -> ApiResult<Json<DeliveryDetail>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let delivery = db::find(&state.pool, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let attempts = db::attempts(&state.pool, id).await?;
    Ok(Json(DeliveryDetail {
        delivery: DeliveryOut::from(delivery),
        attempts: attempts.into_iter().map(AttemptOut::from).collect(),
    }))
}

/// Queues a finished delivery again (same `webhook-id`, attempt count kept).
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/retry", operation_id = "retry_delivery", tag = "webhooks", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "delivery id")),
    responses((status = 200, body = DeliveryOut), (status = 403), (status = 404), (status = 409)))]
pub async fn retry(call: Call<WebhooksManage, IdPath>) -> ApiResult<Json<DeliveryOut>> {
    let (state, principal, IdPath(id)) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    let row = match db::requeue(&mut tx, principal.tenant_id, id).await? {
        Ok(row) => row,
        Err(RetryBlock::NotFound) => return Err(ApiError::not_found("delivery")),
        Err(RetryBlock::Unfinished) => {
            return Err(ApiError::conflict(
                "the delivery is still pending or retrying",
            ));
        }
        Err(RetryBlock::EndpointDeleted) => {
            return Err(ApiError::conflict("the endpoint was deleted"));
        }
        Err(RetryBlock::EndpointDisabled) => {
            return Err(ApiError::conflict("endpoint is disabled"));
        }
    };
    db::wake_senders(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(DeliveryOut::from(row)))
}

/// Queues again every failed delivery of the endpoint created at or after `since` (after an
/// outage of the receiver).
#[utoipa::path(post, path = "/webhooks/{id}/recover", operation_id = "recover_webhook_deliveries", tag = "webhooks", request_body = RecoverIn, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "webhook endpoint id")),
    responses((status = 200, body = Recovered), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn recover(
    call: Call<WebhooksManage, (IdPath, Json<RecoverIn>)>,
) -> ApiResult<Json<Recovered>> {
    let (state, principal, (IdPath(id), Json(body))) = call.into_parts();
    let mut tx = state.pool.begin().await?;
    lock_active(&mut tx, principal.tenant_id, id).await?;
    let recovered = db::requeue_failed_since(&mut tx, principal.tenant_id, id, body.since).await?;
    if recovered > 0 {
        db::wake_senders(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Json(Recovered {
        recovered: i64::try_from(recovered).unwrap_or(i64::MAX),
    }))
}
