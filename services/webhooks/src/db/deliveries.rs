//! `webhooks.deliveries` and `webhooks.attempts` for the API: listing, test deliveries,
//! manual retries and recovery; and their retention purge. (The sender's claims and attempt
//! records are in [`super::queue`].)

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::models::delivery_state::{DeliveryOutcome, DeliveryStatus, ErrorClass};

/// Channel the senders listen on (notified at commit). Must equal
/// `queue::DELIVERIES_CHANNEL`, the one the dispatcher notifies.
pub const WAKE_CHANNEL: &str = super::queue::DELIVERIES_CHANNEL;

/// Wakes the senders when the calling transaction commits (they also poll).
pub async fn wake_senders(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("select pg_notify($1, '')", WAKE_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// One delivery row.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub outcome: Option<DeliveryOutcome>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub attempt_count: i32,
    pub error: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

// Every statement that reads or returns whole delivery rows goes through `delivery_rows!`.
temponest_db::define_rows! {
    $ delivery_rows: DeliveryRow { id, endpoint_id, event_id, event_type, payload, status, outcome,
                                   response_status, response_body, attempt_count, error,
                                   error_class, next_attempt_at, created_at, delivered_at },
    columns: r#"id, endpoint_id, event_id, event_type, payload,
                status as "status: DeliveryStatus", outcome as "outcome: DeliveryOutcome",
                response_status, response_body, attempt_count, error,
                error_class as "error_class: ErrorClass",
                next_attempt_at, created_at, delivered_at"#,
}

/// One attempt row.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
}

/// A new pending delivery of an event the API made up itself (`webhook.test`), due now.
pub async fn insert_pending(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: &str,
    payload: &serde_json::Value,
) -> sqlx::Result<DeliveryRow> {
    delivery_rows!(
        returning "insert into webhooks.deliveries (id, tenant_id, endpoint_id, event_id,
                event_type, payload, event_created_at)
         values ($1, $2, $3, $4, $5, $6, now())",
        Uuid::now_v7(),
        tenant_id,
        endpoint_id,
        event_id,
        event_type,
        payload
    )
    .fetch_one(conn)
    .await
}

/// An endpoint's deliveries newest first, optionally with one status, with the total count.
pub async fn list_for_endpoint(
    pool: &PgPool,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    status: Option<DeliveryStatus>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<DeliveryRow>, i64)> {
    delivery_rows!(
        page pool, "webhooks.deliveries.list", skip, limit,
        from: "webhooks.deliveries
               where endpoint_id = $1 and tenant_id = $2 and ($3::text is null or status = $3::text)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [endpoint_id, tenant_id, status as Option<DeliveryStatus>],
    )
    .await
}

delivery_rows!(find_unlocked {
    table: "webhooks.deliveries",
    metric: "webhooks.deliveries",
    doc: "delivery",
});

/// A delivery's attempts, oldest first.
pub async fn attempts(pool: &PgPool, delivery_id: Uuid) -> sqlx::Result<Vec<AttemptRow>> {
    temponest_db::timed(
        "webhooks.attempts.list",
        sqlx::query_as!(
            AttemptRow,
            r#"select attempt, started_at, duration_ms, response_status, response_body,
                    error_class as "error_class: ErrorClass", error
             from webhooks.attempts
             where delivery_id = $1
             order by attempt, started_at"#,
            delivery_id
        )
        .fetch_all(pool),
    )
    .await
}

/// What stands in the way of re-queueing a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryBlock {
    NotFound,
    /// pending or retrying already.
    Unfinished,
    EndpointDeleted,
    EndpointDisabled,
}

/// Re-queues a finished delivery (due now, lease and outcome cleared, attempt count kept).
pub async fn requeue(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Result<DeliveryRow, RetryBlock>> {
    let state = sqlx::query!(
        r#"select d.status as "status: DeliveryStatus", e.deleted_at is not null as "deleted!", e.is_active
           from webhooks.deliveries d join webhooks.endpoints e on e.id = d.endpoint_id
           where d.id = $1 and d.tenant_id = $2
           for update of d"#,
        id,
        tenant_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(state) = state else {
        return Ok(Err(RetryBlock::NotFound));
    };
    if state.deleted {
        return Ok(Err(RetryBlock::EndpointDeleted));
    }
    if !state.is_active {
        return Ok(Err(RetryBlock::EndpointDisabled));
    }
    if state.status.is_unfinished() {
        return Ok(Err(RetryBlock::Unfinished));
    }
    let row = delivery_rows!(
        returning "update webhooks.deliveries
         set status = 'pending', outcome = null, next_attempt_at = now(), lease_until = null,
             leased_by = null, delivered_at = null
         where id = $1 and tenant_id = $2",
        id,
        tenant_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Ok(row))
}

/// Re-queues every failed delivery of an endpoint created at or after `since`; returns how
/// many.
pub async fn requeue_failed_since(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update webhooks.deliveries
         set status = 'pending', outcome = null, next_attempt_at = now(), lease_until = null,
             leased_by = null
         where endpoint_id = $1 and tenant_id = $2 and status = 'failed' and created_at >= $3",
        endpoint_id,
        tenant_id,
        since
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Gives up on an endpoint's unfinished deliveries (`failed`, with `outcome`).
pub async fn fail_unfinished(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    outcome: DeliveryOutcome,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update webhooks.deliveries
         set status = 'failed', outcome = $2, lease_until = null, leased_by = null
         where endpoint_id = $1 and status in ('pending', 'retrying')",
        endpoint_id,
        outcome as DeliveryOutcome
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` delivered (`success`) deliveries created before `before`, oldest
/// first (`deliveries_success_created_idx`), with their attempts (cascade); rows another
/// purge is deleting are skipped. Returns how many deliveries went.
pub async fn purge_delivered(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    temponest_db::delete_batch!(pool, "webhooks.deliveries" by "id",
        where "status = 'success' and created_at < $1 order by created_at limit $2",
        [before, limit])
    .await
}

/// The same for `failed` deliveries (`deliveries_failed_created_idx`).
// Its own statement rather than a status parameter: each literal matches its partial index,
// which a parameter would not under a generic plan.
pub async fn purge_failed(pool: &PgPool, before: DateTime<Utc>, limit: i64) -> sqlx::Result<u64> {
    temponest_db::delete_batch!(pool, "webhooks.deliveries" by "id",
        where "status = 'failed' and created_at < $1 order by created_at limit $2",
        [before, limit])
    .await
}
