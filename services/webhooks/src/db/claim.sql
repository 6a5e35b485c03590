-- The sender's claim (services/webhooks/src/db/queue.rs, `claim`): read by `query_file_as!`
-- and by the test that checks its plan on a database without statistics.
-- $1 lease seconds, $2 the sender, $3 limit, $4 busy endpoints, $5 busy tenants,
-- $6 per endpoint, $7 endpoints to look at, $8 where in the endpoint id space to start.
with recursive
    above(endpoint_id, tenant_id) as (
        (select d.endpoint_id, d.tenant_id from webhooks.deliveries d
         where d.status in ('pending', 'retrying') and d.endpoint_id > $8
         order by d.endpoint_id limit 1)
        union all
        select n.endpoint_id, n.tenant_id from above p cross join lateral (
            select d.endpoint_id, d.tenant_id from webhooks.deliveries d
            where d.status in ('pending', 'retrying') and d.endpoint_id > p.endpoint_id
            order by d.endpoint_id limit 1) n),
    below(endpoint_id, tenant_id) as (
        (select d.endpoint_id, d.tenant_id from webhooks.deliveries d
         where d.status in ('pending', 'retrying') and d.endpoint_id <= $8
         order by d.endpoint_id limit 1)
        union all
        select n.endpoint_id, n.tenant_id from below p cross join lateral (
            select d.endpoint_id, d.tenant_id from webhooks.deliveries d
            where d.status in ('pending', 'retrying') and d.endpoint_id > p.endpoint_id
              and d.endpoint_id <= $8
            order by d.endpoint_id limit 1) n),
    probed as materialized (
        select * from (select * from above union all select * from below) e limit $7),
    heads as materialized (
        select p.endpoint_id, h.next_attempt_at
        from probed p cross join lateral (
            select d.next_attempt_at from webhooks.deliveries d
            where d.endpoint_id = p.endpoint_id and d.status in ('pending', 'retrying')
              and d.next_attempt_at <= now()
              and (d.lease_until is null or d.lease_until < now())
            order by d.next_attempt_at limit 1) h
        where p.endpoint_id <> all($4) and p.tenant_id <> all($5)
        order by h.next_attempt_at limit $3),
    candidates as materialized (
        select c.id, c.next_attempt_at
        from heads h cross join lateral (
            select d.id, d.next_attempt_at from webhooks.deliveries d
            where d.endpoint_id = h.endpoint_id and d.status in ('pending', 'retrying')
              and d.next_attempt_at <= now()
              and (d.lease_until is null or d.lease_until < now())
            order by d.next_attempt_at limit least($6, $3)) c
        order by c.next_attempt_at limit 2 * $3),
    locked as materialized (
        select l.id
        from unnest(array(select id from candidates order by next_attempt_at)) as u(id)
        cross join lateral (
            select d.id from webhooks.deliveries d
            where d.id = u.id and d.status in ('pending', 'retrying')
              and (d.lease_until is null or d.lease_until < now())
            for update skip locked) l
        limit $3)
update webhooks.deliveries d
set lease_until = now() + make_interval(secs => $1), leased_by = $2
where d.id = any(array(select id from locked))
returning d.id, d.tenant_id, d.endpoint_id, d.event_id, d.event_type, d.payload,
          d.event_created_at, d.attempt_count
