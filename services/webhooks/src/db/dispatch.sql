-- The dispatcher's round (services/webhooks/src/db/queue.rs, `dispatch`): read by
-- `query_file!` and by the test that checks its plan on a database without statistics.
-- $1 batch, $2 the sender to lease to, $3 lease at most, $4 lease seconds, $5 the channel to
-- notify, $6 lease at most per endpoint.
--
-- `pending` walks `outbox_pending_idx` one probe per event (a probe with `limit 1` is an index
-- scan whatever the statistics; a plain `order by id limit n` was planned, on a young table,
-- as a sort of every pending event on every round); `ev` locks the first `$1` of twice that
-- many by primary key, skipping those another dispatcher holds.
with recursive async_commit as (select set_config('synchronous_commit', 'off', true)),
pending(id) as (
    (select id from platform.outbox where processed_at is null order by id limit 1)
    union all
    select n.id from pending p cross join lateral (
        select o.id from platform.outbox o
        where o.processed_at is null and o.id > p.id
        order by o.id limit 1) n),
ev as (
    select o.id, o.event_id, o.tenant_id, o.event_type, o.payload, o.created_at
    from (select id from pending limit 2 * $1::bigint) c
    cross join lateral (
        select o.id, o.event_id, o.tenant_id, o.event_type, o.payload, o.created_at
        from platform.outbox o
        where o.id = c.id and o.processed_at is null
        for update skip locked) o
    limit $1),
marked as (
    update platform.outbox o set processed_at = now()
    where o.id = any(array(select id from ev))
    returning o.id),
m as (
    select ev.tenant_id, ev.event_id, ev.event_type, ev.payload, ev.created_at,
           e.id as endpoint_id, row_number() over (order by ev.id, e.id) as n,
           row_number() over (partition by e.id order by ev.id) as k
    from ev join webhooks.endpoints e
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
select (select count(*) from marked) as "events!",
       (select count(*) from ins) as "created!",
       (select count(*) from woken) as "notified!",
       i.id as "id?", i.tenant_id as "tenant_id?", i.endpoint_id as "endpoint_id?",
       i.event_id as "event_id?", i.event_type as "event_type?",
       i.payload as "payload?", i.event_created_at as "event_created_at?",
       e.url as "url?", e.headers as "headers?", e.max_retries as "max_retries?",
       e.retry_delay_seconds as "retry_delay_seconds?",
       k.secrets as "secrets?", k.sealed as "sealed?"
from (select 1 from async_commit) as one
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
    where s.endpoint_id = e.id and (s.expires_at is null or s.expires_at > now())) k on e.id is not null
