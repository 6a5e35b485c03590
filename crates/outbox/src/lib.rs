//! The transactional outbox (SPEC §6, §8): a service records an event in the same transaction
//! as the change it describes, so an event exists if and only if its change committed — no
//! lost events after a crash, no events for rolled-back changes. Consumers (the webhooks
//! dispatcher) claim pending rows with `FOR UPDATE SKIP LOCKED`, so any number of them can run,
//! through [`claim_with!`] ([`consumer`]), or record an event already processed with their own
//! work on it ([`publish_consumed_with!`]): this crate is the only code that reads or writes
//! `platform.outbox`.
//!
//! Every publish also sends a `NOTIFY` on [`NOTIFY_CHANNEL`]; Postgres delivers it at commit,
//! so consumers can wake at once instead of polling.

pub mod catalogue;
pub mod consumer;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub use catalogue::{EVENT_TYPES, EventType};

/// The channel notified (at commit) whenever an event is published.
pub const NOTIFY_CHANNEL: &str = "temponest_outbox";

/// Records `event_type` with `data` for `tenant_id` inside the caller's transaction and
/// returns the event id. Nothing is visible to consumers until that transaction commits.
pub async fn publish(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    event_type: &str,
    data: &serde_json::Value,
) -> sqlx::Result<Uuid> {
    let event_id = Uuid::now_v7();
    // One round trip: the insert, and the notification Postgres delivers at commit.
    sqlx::query!(
        "with inserted as (
             insert into platform.outbox (event_id, tenant_id, event_type, payload)
             values ($1, $2, $3, $4)
             returning id)
         select pg_notify($5, '') from inserted",
        event_id,
        tenant_id,
        event_type,
        data,
        NOTIFY_CHANNEL
    )
    .execute(&mut *conn)
    .await?;
    Ok(event_id)
}

/// Records several events in one statement (and one notification), inside the caller's
/// transaction; returns their ids in order.
pub async fn publish_many(
    conn: &mut PgConnection,
    events: &[(Uuid, &str, serde_json::Value)],
) -> sqlx::Result<Vec<Uuid>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let tenants: Vec<Uuid> = events.iter().map(|e| e.0).collect();
    let types: Vec<String> = events.iter().map(|e| e.1.to_owned()).collect();
    let payloads: Vec<serde_json::Value> = events.iter().map(|e| e.2.clone()).collect();
    sqlx::query!(
        "with inserted as (
             insert into platform.outbox (event_id, tenant_id, event_type, payload)
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[])
             returning id)
         select pg_notify($5, '') from (select 1 from inserted limit 1) as one",
        &ids,
        &tenants,
        &types,
        &payloads,
        NOTIFY_CHANNEL
    )
    .execute(&mut *conn)
    .await?;
    Ok(ids)
}

/// Deletes up to `limit` events processed before `before` (oldest first by the retention
/// index `outbox_processed_idx`; rows another purge is deleting are skipped); returns how
/// many. Pending events are never deleted. One batch of a `temponest_db::retention` purge.
pub async fn purge_processed(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "delete from platform.outbox
         where id in (select id from platform.outbox
                      where processed_at is not null and processed_at < $1
                      limit $2
                      for update skip locked)",
        before,
        limit
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
