//! The delivery queue in `webhooks.deliveries`: fan-out of outbox events (dispatcher), leased
//! claims of due deliveries (sender), recording attempts and endpoint health.
//!
//! A claim sets `lease_until`/`leased_by`; a sender only writes a result while `leased_by` is
//! still its own id, so a delivery whose lease expired and was taken over is recorded once.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use temponest_outbox::OutboxEvent;
use uuid::Uuid;

/// Channel notified (at commit) when the dispatcher created deliveries.
pub const DELIVERIES_CHANNEL: &str = "webhooks_deliveries";

/// Inserts one delivery per active endpoint subscribed to each event (idempotent) and notifies
/// [`DELIVERIES_CHANNEL`]. Returns how many deliveries were created.
pub async fn fan_out(conn: &mut PgConnection, events: &[OutboxEvent]) -> sqlx::Result<u64> {
    let tenants: Vec<Uuid> = events.iter().map(|e| e.tenant_id).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<String> = events.iter().map(|e| e.event_type.clone()).collect();
    let payloads: Vec<serde_json::Value> = events.iter().map(|e| e.payload.clone()).collect();
    let created: Vec<DateTime<Utc>> = events.iter().map(|e| e.created_at).collect();
    let done = sqlx::query!(
        "insert into webhooks.deliveries
             (id, tenant_id, endpoint_id, event_id, event_type, payload, event_created_at)
         select gen_random_uuid(), ev.tenant_id, e.id, ev.event_id, ev.event_type, ev.payload,
                ev.created_at
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[])
                  as ev(tenant_id, event_id, event_type, payload, created_at)
         join webhooks.endpoints e
           on e.tenant_id = ev.tenant_id and e.deleted_at is null and e.is_active
          and (e.events @> array[ev.event_type] or e.events @> array['*'])
         on conflict (endpoint_id, event_id) do nothing",
        &tenants,
        &ids,
        &types,
        &payloads,
        &created
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        sqlx::query!("select pg_notify($1, '')", DELIVERIES_CHANNEL)
            .execute(conn)
            .await?;
    }
    Ok(done.rows_affected())
}

/// A claimed delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub event_created_at: DateTime<Utc>,
    pub attempt_count: i32,
}

/// Leases up to `limit` due deliveries to `me` for `lease_secs`, skipping those of the
/// `busy_endpoints` and `busy_tenants` (saturated in this process).
pub async fn claim(
    conn: &mut PgConnection,
    me: Uuid,
    lease_secs: f64,
    limit: i64,
    busy_endpoints: &[Uuid],
    busy_tenants: &[Uuid],
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as!(
        Claimed,
        "update webhooks.deliveries d
         set lease_until = now() + make_interval(secs => $1), leased_by = $2
         where d.id in (
             select id from webhooks.deliveries
             where status in ('pending', 'retrying') and next_attempt_at <= now()
               and (lease_until is null or lease_until < now())
               and endpoint_id <> all($4) and tenant_id <> all($5)
             order by next_attempt_at
             limit $3
             for update skip locked)
         returning d.id, d.tenant_id, d.endpoint_id, d.event_id, d.event_type, d.payload,
                   d.event_created_at, d.attempt_count",
        lease_secs,
        me,
        limit,
        busy_endpoints,
        busy_tenants
    )
    .fetch_all(conn)
    .await
}

/// What sending to an endpoint needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: Uuid,
    pub url: String,
    pub headers: serde_json::Value,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    /// Active and not deleted.
    pub usable: bool,
}

/// The endpoints with these ids.
pub async fn targets(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Target>> {
    sqlx::query_as!(
        Target,
        r#"select id, url, headers, max_retries, retry_delay_seconds,
                  (is_active and deleted_at is null) as "usable!"
           from webhooks.endpoints where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await
}

/// Gives leases back (not started, or abandoned at shutdown) so any sender can claim them.
pub async fn release(conn: &mut PgConnection, me: Uuid, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhooks.deliveries set lease_until = null, leased_by = null
         where id = any($1) and leased_by = $2 and status in ('pending', 'retrying')",
        ids,
        me
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back every unfinished lease `me` holds.
pub async fn release_all(conn: &mut PgConnection, me: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update webhooks.deliveries set lease_until = null, leased_by = null
         where leased_by = $1 and status in ('pending', 'retrying')",
        me
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Locks the delivery if `me` still holds it; returns its attempt count.
pub async fn lock_if_ours(
    conn: &mut PgConnection,
    id: Uuid,
    me: Uuid,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "select attempt_count from webhooks.deliveries
         where id = $1 and leased_by = $2 and status in ('pending', 'retrying')
         for update",
        id,
        me
    )
    .fetch_optional(conn)
    .await
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRow<'a> {
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_status: Option<i32>,
    pub response_body: Option<&'a str>,
    pub error_class: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub async fn insert_attempt(conn: &mut PgConnection, a: &AttemptRow<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into webhooks.attempts (id, delivery_id, attempt, started_at, duration_ms,
             response_status, response_body, error_class, error)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Uuid::now_v7(),
        a.delivery_id,
        a.attempt,
        a.started_at,
        a.duration_ms,
        a.response_status,
        a.response_body,
        a.error_class,
        a.error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The delivery's new state after an attempt (or after being failed without one).
#[derive(Debug, Clone)]
pub struct DeliveryUpdate<'a> {
    pub id: Uuid,
    pub status: &'a str,
    pub outcome: Option<&'a str>,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub response_status: Option<i32>,
    pub response_body: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_class: Option<&'a str>,
}

/// Writes the outcome and clears the lease.
pub async fn update_delivery(conn: &mut PgConnection, u: &DeliveryUpdate<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhooks.deliveries set
             status = $2, outcome = $3, attempt_count = $4,
             next_attempt_at = coalesce($5, next_attempt_at),
             response_status = $6, response_body = $7, error = $8, error_class = $9,
             delivered_at = case when $2 = 'success' then now() else delivered_at end,
             lease_until = null, leased_by = null
         where id = $1",
        u.id,
        u.status,
        u.outcome,
        u.attempt_count,
        u.next_attempt_at,
        u.response_status,
        u.response_body,
        u.error,
        u.error_class
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A success: the endpoint is healthy again.
pub async fn mark_healthy(conn: &mut PgConnection, endpoint_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhooks.endpoints set failing_since = null
         where id = $1 and failing_since is not null",
        endpoint_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A failure: starts the failing period if none; returns how long it has lasted (seconds).
pub async fn mark_failing(conn: &mut PgConnection, endpoint_id: Uuid) -> sqlx::Result<Option<f64>> {
    sqlx::query_scalar!(
        r#"update webhooks.endpoints set failing_since = coalesce(failing_since, now())
           where id = $1
           returning extract(epoch from now() - failing_since)::float8 as "secs""#,
        endpoint_id
    )
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

/// Disables an active endpoint; returns its tenant if this call did it (not already disabled).
pub async fn disable(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    reason: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "update webhooks.endpoints
         set is_active = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
         where id = $1 and is_active
         returning tenant_id",
        endpoint_id,
        reason
    )
    .fetch_optional(conn)
    .await
}

/// When the endpoint's current failing period began.
pub async fn failing_since(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "select failing_since from webhooks.endpoints where id = $1",
        endpoint_id
    )
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

/// Queue depth (due, unfinished deliveries) and the age in seconds of the oldest one.
pub async fn depth(conn: &mut PgConnection) -> sqlx::Result<(i64, f64)> {
    let row = sqlx::query!(
        r#"select count(*) as "depth!",
                  coalesce(extract(epoch from now() - min(next_attempt_at))::float8, 0) as "oldest!"
           from webhooks.deliveries
           where status in ('pending', 'retrying') and next_attempt_at <= now()"#
    )
    .fetch_one(conn)
    .await?;
    Ok((row.depth, row.oldest))
}
