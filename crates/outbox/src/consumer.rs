//! Consuming the outbox: the claim a consumer's round starts with, written once here.
//!
//! A round claims up to a batch of pending events, oldest first, skipping rows another
//! consumer holds (`FOR UPDATE SKIP LOCKED`, so any number of consumers run side by side), marks
//! them processed and does the consumer's own work with them — all in **one statement**, so one
//! round trip and one atomic step: the events are marked processed if and only if the
//! consumer's work committed with them.
//!
//! **Why the consumer's SQL is spliced in here.** A consumer's work is SQL over its own tables
//! (the webhooks dispatcher inserts one delivery per subscribed endpoint), which this crate
//! must not know. Claiming through a function (`claim`, then the consumer's statement, then
//! `mark`) would cost three round trips per round and hold the row locks across them — the
//! dispatcher's throughput is bounded by exactly that. So the outbox owns the first half of the
//! statement and the consumer supplies the rest as a string literal: [`claim_with!`] joins them
//! at compile time (`sqlx` checks the whole statement against the schema, as any `query!`),
//! and [`claim_sql!`] gives the same text, for tests that inspect the statement's plan.
//!
//! **The contract.** The claim is a `with recursive` list that the consumer's fragment
//! continues: the fragment adds its own CTEs (starting with `,`) if it needs any, and ends with
//! the statement's final `select`. The claim defines:
//! - `claimed (id, event_id, tenant_id, event_type, payload, created_at)`: the claimed events,
//!   locked;
//! - `processed (id)`: the same events, now marked processed (it runs whether or not the
//!   fragment reads it, as every data-modifying CTE does);
//!
//! and takes `$1` (`bigint`): the batch, how many events to claim at most. The fragment's own
//! parameters are `$2` onwards. Neither the claim nor a consumer may hold the statement's row
//! locks beyond its transaction: run it on its own (autocommit) or at the end of one.
//!
//! **Consumed as it is published.** A consumer that is also where an event comes from (the
//! webhooks service's `POST /events` with an idempotency key) can record the event *already processed* and do its own
//! work in the same statement: [`publish_consumed_with!`] replaces the claim by an insert that
//! defines the same `claimed` and `processed` (the one new event, or none when its id is
//! already in the outbox) and takes `$1` (`text`): the event as JSON, built by
//! [`consumed_event`]. The fragment is the consumer's claim fragment, unchanged. The event
//! never waits for a consumer round: for webhooks, the deliveries exist when the publish
//! commits. No `NOTIFY` is sent (no consumer has anything to claim).
//!
//! **The plan does not depend on statistics.** `pending` walks `outbox_pending_idx` one probe per
//! event (a probe with `limit 1` is an index scan whatever the statistics; a plain
//! `order by id limit n` was planned, on a young table, as a sort of every pending event on
//! every round); `claimed` locks the first `$1` of twice that many by primary key, skipping
//! those another consumer holds.

/// Runs `$callback!` (a macro of this crate) with the claim's SQL text as its first argument,
/// then the given tokens: the one place the claim is written.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_claim_sql {
    ($callback:ident, $($rest:tt)*) => {
        $crate::$callback!(
            "with recursive pending(id) as (
    (select id from platform.outbox where processed_at is null order by id limit 1)
    union all
    select n.id from pending p cross join lateral (
        select o.id from platform.outbox o
        where o.processed_at is null and o.id > p.id
        order by o.id limit 1) n),
claimed as (
    select o.id, o.event_id, o.tenant_id, o.event_type, o.payload, o.created_at
    from (select id from pending limit 2 * $1::bigint) c
    cross join lateral (
        select o.id, o.event_id, o.tenant_id, o.event_type, o.payload, o.created_at
        from platform.outbox o
        where o.id = c.id and o.processed_at is null
        for update skip locked) o
    limit $1),
processed as (
    update platform.outbox o set processed_at = now()
    where o.id = any(array(select id from claimed))
    returning o.id)
",
            $($rest)*
        )
    };
}

/// One consumer round as a `sqlx::query!`: the outbox's claim (see [the module
/// docs](crate::consumer) for the CTEs it defines) followed by `$fan_out`, a string literal
/// continuing its `with` list. The arguments are bound as `$1` (the batch, `i64`), `$2`, ...
///
/// ```ignore
/// let events = temponest_outbox::claim_with!(
///     r#", copied as (insert into mine.events (event_id) select event_id from claimed)
///        select (select count(*) from processed) as "events!""#,
///     batch
/// )
/// .fetch_one(conn)
/// .await?;
/// ```
///
/// The consumer crate depends on `sqlx` (with its `macros` feature) and keeps the statement's
/// offline data in `.sqlx/`, as for its other queries.
///
/// `claim_with!(as Row, $fan_out, args...)` is the same as a `sqlx::query_as!` into `Row`.
#[macro_export]
macro_rules! claim_with {
    ($($query:tt)*) => {
        $crate::__query_after!(__with_claim_sql, $($query)*)
    };
}

/// `$sql` (a `__with_…_sql` macro of this crate) followed by `$fan_out`, as a `sqlx::query!`
/// or, with `as Row`, a `sqlx::query_as!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __query_after {
    ($sql:ident, as $row:path, $fan_out:literal, $($args:tt)*) => {
        $crate::$sql!(__claim_query_as, $row, $fan_out, $($args)*)
    };
    ($sql:ident, $fan_out:literal, $($args:tt)*) => {
        $crate::$sql!(__claim_query, $fan_out, $($args)*)
    };
}

/// The text of the statement [`claim_with!`] runs with the same `$fan_out` (a `&'static str`),
/// e.g. to `EXPLAIN` it.
#[macro_export]
macro_rules! claim_sql {
    ($fan_out:literal $(,)?) => {
        $crate::__with_claim_sql!(__claim_text, $fan_out)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __claim_query {
    ($claim:literal, $fan_out:literal, $($args:tt)*) => {
        ::sqlx::query!($claim + $fan_out, $($args)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __claim_query_as {
    ($claim:literal, $row:path, $fan_out:literal, $($args:tt)*) => {
        ::sqlx::query_as!($row, $claim + $fan_out, $($args)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __claim_text {
    ($claim:literal, $fan_out:literal) => {
        ::core::concat!($claim, $fan_out)
    };
}

/// Runs `$callback!` with the SQL text of an event published already processed (see [the
/// module docs](crate::consumer)) as its first argument, then the given tokens.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_publish_consumed_sql {
    ($callback:ident, $($rest:tt)*) => {
        $crate::$callback!(
            "with event as (select $1::text::jsonb as e),
claimed as (
    insert into platform.outbox (event_id, tenant_id, event_type, payload, processed_at)
    select (e->>'event_id')::uuid, (e->>'tenant_id')::uuid, e->>'event_type', e->'payload', now()
    from event
    on conflict (event_id) do nothing
    returning id, event_id, tenant_id, event_type, payload, created_at),
processed as (select id from claimed)
",
            $($rest)*
        )
    };
}

/// Publishes one event already processed and runs the consumer's `$fan_out` on it, in one
/// statement (see [the module docs](crate::consumer)): `$1` is the event, from
/// [`consumed_event`]; the fragment's parameters are `$2` onwards, as for [`claim_with!`].
/// An event whose id is already in the outbox is not recorded again: `claimed` is empty.
///
/// `publish_consumed_with!(as Row, $fan_out, args...)` is the same as a `sqlx::query_as!` into
/// `Row`.
#[macro_export]
macro_rules! publish_consumed_with {
    ($($query:tt)*) => {
        $crate::__query_after!(__with_publish_consumed_sql, $($query)*)
    };
}

/// The `$1` of [`publish_consumed_with!`]: the event as JSON text.
pub fn consumed_event(
    event_id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    event_type: &str,
    payload: &serde_json::Value,
) -> String {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        event_id: uuid::Uuid,
        tenant_id: uuid::Uuid,
        event_type: &'a str,
        payload: &'a serde_json::Value,
    }
    serde_json::to_string(&Event {
        event_id,
        tenant_id,
        event_type,
        payload,
    })
    .expect("an event serialises to JSON")
}
