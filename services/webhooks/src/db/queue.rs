//! The delivery queue in `webhooks.deliveries`: fan-out of outbox events (dispatcher), leased
//! claims of due deliveries (sender), recording attempts and endpoint health.
//!
//! A claim sets `lease_until`/`leased_by`; a sender only writes a result while `leased_by` is
//! still its own id, so a delivery whose lease expired and was taken over is recorded once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::models::delivery_state::{DeliveryOutcome, DeliveryStatus, ErrorClass};

/// Channel notified (at commit) when the dispatcher created deliveries.
pub const DELIVERIES_CHANNEL: &str = "webhooks_deliveries";

/// Deliveries the dispatcher leases to its own sender as it creates them (no claim needed).
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub me: Uuid,
    pub secs: f64,
    /// How many of the new deliveries to lease at most, in all and per endpoint.
    pub max: usize,
    pub max_per_endpoint: usize,
}

/// What a dispatch round did.
#[derive(Debug, Default)]
pub struct FanOut {
    /// Outbox events claimed and marked processed.
    pub events: usize,
    /// Deliveries created.
    pub created: usize,
    /// The new deliveries leased to [`Lease::me`], with their endpoints: ready to send.
    pub leased: Vec<(Claimed, Arc<Target>)>,
}

/// The fan-out of events into deliveries, after the outbox's claim (a dispatcher round), after
/// an event published already processed (`POST /events` with an idempotency key), or after an
/// event that is not recorded in the outbox at all (`POST /events` without one): `claimed`,
/// `processed` and `$1` come from [`temponest_outbox::consumer`] or from
/// `unrecorded_event_with!`. Expands to `$consume!(as FanOutRow, <fan-out>, args...)`: the
/// query ([`dispatch`], [`publish`]) or, with `temponest_outbox::claim_sql`, its text
/// ([`DISPATCH_SQL`]).
///
/// $2 the sender to lease to, $3 lease at most, $4 lease seconds, $5 the channel to notify, $6
/// lease at most per endpoint, $7 the transaction's `synchronous_commit` (`null`: as
/// configured). `m` pairs each claimed event with its subscribed endpoints (`n` numbers them
/// all, `k` per endpoint, for the lease caps).
macro_rules! with_fan_out {
    ($($consume:ident)::+ $(as $row:path)?, $($args:tt)*) => {
        $($consume)::+!(
            $(as $row,)?
            r#", commit_mode as (
    select set_config('synchronous_commit',
                      coalesce($7::text, current_setting('synchronous_commit')), true)),
m as (
    select ev.tenant_id, ev.event_id, ev.event_type, ev.payload, ev.created_at,
           e.id as endpoint_id, row_number() over (order by ev.id, e.id) as n,
           row_number() over (partition by e.id order by ev.id) as k
    from claimed ev join webhooks.endpoints e
      on e.tenant_id = ev.tenant_id and e.deleted_at is null and e.is_active
     and (e.events @> array[ev.event_type] or e.events @> array['*'])),
ins as (
    insert into webhooks.deliveries
        (id, tenant_id, endpoint_id, event_id, event_type, payload, event_created_at,
         leased_by, lease_until)
    select gen_random_uuid(), tenant_id, endpoint_id, event_id, event_type, payload,
           created_at,
           case when n <= $3 and k <= $6 then $2::uuid end,
           case when n <= $3 and k <= $6 then now() + make_interval(secs => $4) end
    from m
    on conflict (endpoint_id, event_id) do nothing
    returning id, tenant_id, endpoint_id, event_id, event_type, payload,
              event_created_at, leased_by is not null as leased),
woken as (
    select pg_notify($5, '')
    from (select 1 from ins where not leased limit 1) unleased)
select (select count(*) from processed) as "events!",
       (select count(*) from ins) as "created!",
       (select count(*) from woken) as "notified!",
       i.id as "id?", i.tenant_id as "tenant_id?", i.endpoint_id as "endpoint_id?",
       i.event_id as "event_id?", i.event_type as "event_type?",
       i.payload as "payload?", i.event_created_at as "event_created_at?",
       e.url as "url?", e.headers as "headers?", e.max_retries as "max_retries?",
       e.retry_delay_seconds as "retry_delay_seconds?",
       k.secrets as "secrets?", k.sealed as "sealed?"
from (select 1 from commit_mode) as one
left join ins i on i.leased
left join webhooks.endpoints e on e.id = i.endpoint_id
left join lateral (
    -- Every secret that signs now, as stored: the current one first, then those
    -- still in their rotation grace period.
    select coalesce(array_agg(s.secret order by s.expires_at is not null,
                                               s.created_at desc), '{}') as secrets,
           coalesce(array_agg(s.sealed order by s.expires_at is not null,
                                               s.created_at desc), '{}') as sealed
    from webhooks.secrets s
    where s.endpoint_id = e.id and (s.expires_at is null or s.expires_at > now())) k on e.id is not null"#,
            $($args)*
        )
    };
}

/// The fan-out query after `$consume` (`temponest_outbox::claim_with`,
/// `temponest_outbox::publish_consumed_with` or `unrecorded_event_with!`) with its `$1`,
/// leasing to `$lease` (an `Option<Lease>`), committing with `$commit` (`Option<&str>`).
macro_rules! fan_out {
    ($($consume:ident)::+, $first:expr, $lease:expr, $commit:expr) => {{
        let (me, secs, max, per_endpoint) = Lease::binds($lease);
        with_fan_out!(
            $($consume)::+ as FanOutRow,
            $first,
            me,
            max,
            secs,
            DELIVERIES_CHANNEL,
            per_endpoint,
            $commit
        )
    }};
}

/// The statement [`dispatch`] runs, as text (for the test of its plan on a fresh table).
pub const DISPATCH_SQL: &str = with_fan_out!(temponest_outbox::claim_sql,);

/// `claimed` and `processed` (as [`temponest_outbox::consumer`] defines them) for one event
/// that is not recorded in the outbox: `$1` is the event as JSON text
/// ([`temponest_outbox::consumer::consumed_event`]). `claimed` is that event, with `id` 0 and
/// `created_at` the statement's time; `processed` is the same one event. Followed by `$fan_out`
/// as a `sqlx::query_as!` into `$row`.
macro_rules! unrecorded_event_with {
    (as $row:path, $fan_out:literal, $($args:tt)*) => {
        sqlx::query_as!(
            $row,
            "with event as (select $1::text::jsonb as e),
claimed as (
    select 0::bigint as id, (e->>'event_id')::uuid as event_id,
           (e->>'tenant_id')::uuid as tenant_id, e->>'event_type' as event_type,
           e->'payload' as payload, now() as created_at
    from event),
processed as (select id from claimed)
" + $fan_out,
            $($args)*
        )
    };
}

/// One dispatch round in one statement (so in one round trip): claims up to `batch` pending
/// outbox events (`FOR UPDATE SKIP LOCKED`, oldest first), marks them processed, inserts one
/// delivery per active endpoint of the event's tenant subscribed to its type or to `*`
/// (idempotent per event and endpoint), leases up to `lease.max` of them (and
/// `lease.max_per_endpoint` per endpoint) to `lease.me`, and —
/// if any is left unleased — notifies [`DELIVERIES_CHANNEL`] so that senders claim it.
///
/// Its transaction commits with `synchronous_commit = off`: a Postgres crash can undo the last
/// fraction of a second of rounds, and since the outbox rows' `processed_at` is undone with
/// them, those events are dispatched again (deliveries are idempotent per event and endpoint).
pub async fn dispatch(
    conn: &mut PgConnection,
    batch: i64,
    lease: Option<Lease>,
) -> sqlx::Result<FanOut> {
    let rows = fan_out!(temponest_outbox::claim_with, batch, lease, Some("off"))
        .fetch_all(conn)
        .await?;
    Ok(FanOut::from_rows(rows))
}

/// An application's event from `POST /events`, published already dispatched: its deliveries,
/// leased as [`dispatch`] leases them, in one statement, so they exist when the publish is
/// acknowledged and no dispatcher round stands between the event and its sender. Committed
/// with the configured `synchronous_commit`: the `202` promises the event is durable.
///
/// `recorded`: the event is also recorded in the outbox, marked processed
/// ([`temponest_outbox::publish_consumed_with!`]), and an `event_id` already there records
/// nothing (`events` is 0). That record is what makes an idempotency key work, so only keyed
/// events need it. An event without a key has a fresh id, nothing reads its outbox row but
/// the retention purge, and its deliveries, which carry its payload, are its durable record:
/// it is not recorded (one row and three index entries fewer in the statement the client
/// waits for). An event that no endpoint subscribes to then leaves nothing behind, as there
/// is nothing to deliver.
pub async fn publish(
    conn: &mut PgConnection,
    event: &str,
    lease: Option<Lease>,
    recorded: bool,
) -> sqlx::Result<FanOut> {
    let rows = if recorded {
        fan_out!(
            temponest_outbox::publish_consumed_with,
            event,
            lease,
            None::<&str>
        )
        .fetch_all(conn)
        .await?
    } else {
        fan_out!(unrecorded_event_with, event, lease, None::<&str>)
            .fetch_all(conn)
            .await?
    };
    Ok(FanOut::from_rows(rows))
}

impl Lease {
    /// `$2`, `$3`, `$4`, `$6` of the fan-out: no lease is a lease of nothing.
    fn binds(lease: Option<Self>) -> (Option<Uuid>, f64, i64, i64) {
        match lease {
            Some(l) => (
                Some(l.me),
                l.secs,
                i64::try_from(l.max).unwrap_or(i64::MAX),
                i64::try_from(l.max_per_endpoint).unwrap_or(i64::MAX),
            ),
            None => (None, 0.0, 0, 0),
        }
    }
}

/// A row of the fan-out: the counts, and one leased delivery with its endpoint (all `None`
/// when nothing was leased).
#[derive(Debug)]
struct FanOutRow {
    events: i64,
    created: i64,
    #[allow(dead_code)] // selected so that the notification is not optimised away
    notified: i64,
    id: Option<Uuid>,
    tenant_id: Option<Uuid>,
    endpoint_id: Option<Uuid>,
    event_id: Option<Uuid>,
    event_type: Option<String>,
    payload: Option<serde_json::Value>,
    event_created_at: Option<DateTime<Utc>>,
    url: Option<String>,
    headers: Option<serde_json::Value>,
    max_retries: Option<i32>,
    retry_delay_seconds: Option<i32>,
    secrets: Option<Vec<Vec<u8>>>,
    sealed: Option<Vec<bool>>,
}

impl FanOut {
    fn from_rows(rows: Vec<FanOutRow>) -> Self {
        let mut out = Self::default();
        let mut targets: HashMap<Uuid, Arc<Target>> = HashMap::new();
        for row in rows {
            out.events = usize::try_from(row.events).unwrap_or_default();
            out.created = usize::try_from(row.created).unwrap_or_default();
            let (
                Some(id),
                Some(tenant_id),
                Some(endpoint_id),
                Some(event_id),
                Some(event_type),
                Some(payload),
                Some(event_created_at),
                Some(url),
                Some(headers),
                Some(max_retries),
                Some(retry_delay_seconds),
            ) = (
                row.id,
                row.tenant_id,
                row.endpoint_id,
                row.event_id,
                row.event_type,
                row.payload,
                row.event_created_at,
                row.url,
                row.headers,
                row.max_retries,
                row.retry_delay_seconds,
            )
            else {
                continue;
            };
            let target = targets
                .entry(endpoint_id)
                .or_insert_with(|| {
                    Arc::new(Target {
                        id: endpoint_id,
                        url,
                        headers,
                        max_retries,
                        retry_delay_seconds,
                        usable: true,
                        secrets: row.secrets.unwrap_or_default(),
                        sealed: row.sealed.unwrap_or_default(),
                    })
                })
                .clone();
            out.leased.push((
                Claimed {
                    id,
                    tenant_id,
                    endpoint_id,
                    event_id,
                    event_type,
                    payload,
                    event_created_at,
                    attempt_count: 0,
                },
                target,
            ));
        }
        out
    }
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

/// What a [`claim`] asks for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub me: Uuid,
    pub lease_secs: f64,
    pub limit: i64,
    pub per_endpoint: i64,
    pub busy_endpoints: &'a [Uuid],
    pub busy_tenants: &'a [Uuid],
    /// Endpoints with unfinished deliveries to look at, at most.
    pub scan: i64,
}

/// Leases up to `limit` due deliveries (at most `per_endpoint` of one endpoint) to `me` for
/// `lease_secs`, oldest first, skipping those of the `busy_endpoints` and `busy_tenants`
/// (saturated in this process) — among the deliveries of up to `scan` endpoints with
/// unfinished deliveries, probed from a random point of the endpoint id space (so that, with
/// more endpoints than that, every one comes up; a caller passes `i64::MAX` now and then).
///
/// The plan does not depend on statistics (a young table, autovacuum behind a burst): every
/// step is an index range scan of `deliveries_endpoint_due_idx` (unfinished deliveries by
/// endpoint and due time) or a primary-key probe, and each step's rows are bounded — one
/// probe per endpoint (a loose index scan), the oldest due delivery of each (`heads`), then
/// the oldest `per_endpoint` of the `limit` endpoints with the oldest heads (only those can
/// hold the `limit` oldest deliveries), twice `limit` candidates, and `limit` locked. A busy
/// endpoint costs one probe, however long its backlog.
pub async fn claim(conn: &mut PgConnection, c: &ClaimRequest<'_>) -> sqlx::Result<Vec<Claimed>> {
    // Candidates are read without locks; `locked` then takes them oldest first, one primary
    // key probe each, skipping rows another sender is claiming and re-checking the lease
    // (rows are locked only as far as `limit` needs). `start` splits the endpoint id space:
    // `above` probes from it upwards, `below` from the lowest id up to it.
    let start = Uuid::new_v4();
    sqlx::query_file_as!(
        Claimed,
        "src/db/claim.sql",
        c.lease_secs,
        c.me,
        c.limit,
        c.busy_endpoints,
        c.busy_tenants,
        c.per_endpoint,
        c.scan,
        start
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
    /// Every secret that signs now, as stored: the current one first, then unexpired previous
    /// ones; `sealed[i]` says whether `secrets[i]` is sealed ([`crate::domain::sealing`]).
    pub secrets: Vec<Vec<u8>>,
    pub sealed: Vec<bool>,
}

/// The endpoints with these ids and their signing secrets.
pub async fn targets(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Target>> {
    sqlx::query_as!(
        Target,
        r#"select e.id, e.url, e.headers, e.max_retries, e.retry_delay_seconds,
                  (e.is_active and e.deleted_at is null) as "usable!",
                  k.secrets as "secrets!", k.sealed as "sealed!"
           from webhooks.endpoints e
           cross join lateral (
               -- Every secret that signs now, as stored: the current one first, then those
               -- still in their rotation grace period.
               select coalesce(array_agg(s.secret order by s.expires_at is not null,
                                                          s.created_at desc), '{}') as secrets,
                      coalesce(array_agg(s.sealed order by s.expires_at is not null,
                                                          s.created_at desc), '{}') as sealed
               from webhooks.secrets s
               where s.endpoint_id = e.id and (s.expires_at is null or s.expires_at > now())) k
           where e.id = any($1)"#,
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

/// Gives back every unfinished lease the senders `owners` hold (this one at shutdown, or
/// dead ones found by a survivor).
pub async fn release_all(conn: &mut PgConnection, owners: &[Uuid]) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update webhooks.deliveries set lease_until = null, leased_by = null
         where leased_by = any($1) and status in ('pending', 'retrying')",
        owners
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Locks those of `ids` that `me` still holds (unfinished), in id order; returns their
/// attempt counts.
pub async fn lock_ours(
    conn: &mut PgConnection,
    ids: &[Uuid],
    me: Uuid,
) -> sqlx::Result<Vec<(Uuid, i32)>> {
    let rows = sqlx::query!(
        "select id, attempt_count from webhooks.deliveries
         where id = any($1) and leased_by = $2 and status in ('pending', 'retrying')
         order by id
         for update",
        ids,
        me
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.attempt_count)).collect())
}

/// What receivers answered (or why there was no answer), as columns: written the same way
/// to the attempts and to the deliveries' latest state.
#[derive(Debug, Default)]
pub struct ResponseColumns {
    pub status: Vec<Option<i32>>,
    pub body: Vec<Option<String>>,
    pub error: Vec<Option<String>>,
    pub error_class: Vec<Option<ErrorClass>>,
}

/// Attempts to insert, as columns (one entry per attempt).
#[derive(Debug, Default)]
pub struct AttemptRows {
    pub delivery_id: Vec<Uuid>,
    pub attempt: Vec<i32>,
    pub started_at: Vec<DateTime<Utc>>,
    pub duration_ms: Vec<i32>,
    pub response: ResponseColumns,
}

pub async fn insert_attempts(conn: &mut PgConnection, a: &AttemptRows) -> sqlx::Result<()> {
    if a.delivery_id.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = a.delivery_id.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!(
        "insert into webhooks.attempts (id, delivery_id, attempt, started_at, duration_ms,
             response_status, response_body, error_class, error)
         select * from unnest($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::int4[],
                              $6::int4[], $7::text[], $8::text[], $9::text[])",
        &ids,
        &a.delivery_id,
        &a.attempt,
        &a.started_at,
        &a.duration_ms,
        &a.response.status as &[Option<i32>],
        &a.response.body as &[Option<String>],
        &a.response.error_class as &[Option<ErrorClass>],
        &a.response.error as &[Option<String>]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deliveries' new states after attempts (or after being failed without one), as columns.
#[derive(Debug, Default)]
pub struct DeliveryUpdates {
    pub id: Vec<Uuid>,
    pub status: Vec<DeliveryStatus>,
    pub outcome: Vec<Option<DeliveryOutcome>>,
    pub attempt_count: Vec<i32>,
    /// `None` keeps the current value.
    pub next_attempt_at: Vec<Option<DateTime<Utc>>>,
    pub response: ResponseColumns,
}

/// Writes the outcomes and clears the leases.
pub async fn update_deliveries(conn: &mut PgConnection, u: &DeliveryUpdates) -> sqlx::Result<()> {
    if u.id.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "update webhooks.deliveries d set
             status = u.status, outcome = u.outcome, attempt_count = u.attempt_count,
             next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
             response_status = u.response_status, response_body = u.response_body,
             error = u.error, error_class = u.error_class,
             delivered_at = case when u.status = 'success' then now() else d.delivered_at end,
             lease_until = null, leased_by = null
         from unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::timestamptz[],
                     $6::int4[], $7::text[], $8::text[], $9::text[])
              as u(id, status, outcome, attempt_count, next_attempt_at, response_status,
                   response_body, error, error_class)
         where d.id = u.id",
        &u.id,
        &u.status as &[DeliveryStatus],
        &u.outcome as &[Option<DeliveryOutcome>],
        &u.attempt_count,
        &u.next_attempt_at as &[Option<DateTime<Utc>>],
        &u.response.status as &[Option<i32>],
        &u.response.body as &[Option<String>],
        &u.response.error as &[Option<String>],
        &u.response.error_class as &[Option<ErrorClass>]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An endpoint still failing after this batch: since when, and for how many seconds.
#[derive(Debug, Clone)]
pub struct Failing {
    pub id: Uuid,
    pub since: DateTime<Utc>,
    pub secs: f64,
}

/// Endpoint health after a batch of attempts: `ok[i]` is whether endpoint `ids[i]`'s latest
/// attempt succeeded. A success ends the failing period, a failure starts one if none runs
/// (rows that do not change are not written). Returns the endpoints that are failing.
pub async fn record_health(
    conn: &mut PgConnection,
    ids: &[Uuid],
    ok: &[bool],
) -> sqlx::Result<Vec<Failing>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as!(
        Failing,
        r#"with u as (select * from unnest($1::uuid[], $2::bool[]) as u(id, ok)),
           changed as (
               update webhooks.endpoints e
               set failing_since = case when u.ok then null else now() end
               from u
               where e.id = u.id and u.ok = (e.failing_since is not null)
               returning e.id)
           select e.id, coalesce(e.failing_since, now()) as "since!",
                  extract(epoch from now() - coalesce(e.failing_since, now()))::float8 as "secs!"
           from webhooks.endpoints e join u on u.id = e.id
           where not u.ok"#,
        ids,
        ok
    )
    .fetch_all(conn)
    .await
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
