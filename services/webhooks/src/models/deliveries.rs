//! API types of deliveries and their attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::deliveries::{AttemptRow, DeliveryRow};
use crate::models::delivery_state::{DeliveryOutcome, DeliveryStatus, ErrorClass};

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOut {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The `webhook-id` receivers de-duplicate on.
    pub event_id: Uuid,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    /// Finer state, once finished.
    pub outcome: Option<DeliveryOutcome>,
    pub response_status: Option<i32>,
    /// The last response body (truncated).
    pub response_body: Option<String>,
    pub attempt_count: i32,
    pub error: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttemptOut {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
}

/// A delivery with every attempt, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryOut,
    pub attempts: Vec<AttemptOut>,
}

temponest_web::from_row! { row: DeliveryRow => DeliveryOut {
    id, event_id, event_type, payload, status, outcome, response_status, response_body,
    attempt_count, error, error_class, next_attempt_at, created_at, delivered_at;
    webhook_id: row.endpoint_id,
} }

temponest_web::from_row! { row: AttemptRow => AttemptOut {
    attempt, started_at, duration_ms, response_status, response_body, error_class, error
} }

/// `GET /webhooks/{id}/deliveries` filters.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    /// A [`DeliveryStatus`] name; checked by the route, which names the allowed values.
    pub status: Option<String>,
}

/// `POST /webhooks/{id}/recover`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverIn {
    /// Failed deliveries created at or after this instant are re-queued.
    pub since: DateTime<Utc>,
}

/// How many deliveries were re-queued.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Recovered {
    pub recovered: i64,
}
