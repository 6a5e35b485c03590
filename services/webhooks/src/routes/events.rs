//! The event catalogue and applications' own events.

use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use temponest_outbox::catalogue::{self, EVENT_TYPES};
use temponest_platform::access::{WebhooksManage, WebhooksRead};
use temponest_web::{ApiError, ApiResult, FieldError, Json};
use uuid::Uuid;

use crate::domain::dispatcher;
use crate::models::{EventAccepted, EventIn, is_application_type};
use crate::routes::Call;

const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The names of every event type the platform publishes.
#[utoipa::path(get, path = "/webhooks/events", operation_id = "list_event_types", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = [String])))]
pub async fn catalogue(_: Call<WebhooksRead>) -> ApiResult<Json<Vec<&'static str>>> {
    Ok(Json(EVENT_TYPES.iter().map(|e| e.name).collect()))
}

/// Publishes an application's own event to the caller's tenant: it is delivered to the
/// tenant's endpoints subscribed to its type (or `*`), like the platform's events.
#[utoipa::path(post, path = "/events", operation_id = "publish_event", tag = "webhooks", request_body = EventIn, security(("bearer" = [])),
    responses((status = 202, body = EventAccepted), (status = 403), (status = 422)))]
pub async fn publish(
    call: Call<WebhooksManage, Json<EventIn>>,
) -> ApiResult<(StatusCode, Json<EventAccepted>)> {
    let (state, principal, Json(body)) = call.into_parts();
    let event_type = body.event_type.trim().to_owned();
    let mut errors = Vec::new();
    if catalogue::is_reserved(&event_type) {
        errors.push(FieldError::new(
            "event_type",
            format!(
                "'{event_type}' is in a reserved platform namespace ({})",
                catalogue::RESERVED_PREFIXES.join(", ")
            ),
        ));
    } else if !is_application_type(&event_type) {
        errors.push(FieldError::new(
            "event_type",
            "must be dotted lowercase segments of letters and underscores, e.g. 'order.paid'",
        ));
    }
    if !body.payload.is_object() {
        errors.push(FieldError::new("payload", "must be a JSON object"));
    } else if body.payload.to_string().len() > MAX_PAYLOAD_BYTES {
        errors.push(FieldError::new(
            "payload",
            format!("must be at most {MAX_PAYLOAD_BYTES} bytes of JSON"),
        ));
    }
    let key = body.idempotency_key.as_deref();
    if key.is_some_and(|k| k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY) {
        errors.push(FieldError::new(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let event_id = match key {
        Some(key) => keyed_event_id(principal.tenant_id, key),
        None => Uuid::now_v7(),
    };
    dispatcher::publish(
        &state,
        event_id,
        principal.tenant_id,
        &event_type,
        &body.payload,
        key.is_some(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            event_id,
            event_type,
        }),
    ))
}

/// The event id of an application event with an idempotency key: a UUIDv8 from
/// SHA-256(tenant id, key), so a repeat maps to the same outbox row.
fn keyed_event_id(tenant_id: Uuid, key: &str) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(b"temponest.events.v1\0");
    hash.update(tenant_id.as_bytes());
    hash.update(key.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::keyed_event_id;
    use uuid::Uuid;

    #[test]
    fn keyed_event_ids_are_stable_per_tenant_and_key() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(keyed_event_id(a, "k"), keyed_event_id(a, "k"));
        assert_ne!(keyed_event_id(a, "k"), keyed_event_id(b, "k"));
        assert_ne!(keyed_event_id(a, "k"), keyed_event_id(a, "k2"));
        assert_eq!(keyed_event_id(a, "k").get_version_num(), 8);
    }
}
