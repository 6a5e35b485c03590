-- The webhooks service: endpoints (subscriptions), their signing secrets, one delivery per
-- (event, endpoint) and every attempt to deliver it.

create schema if not exists webhooks;

create table webhooks.endpoints (
    id                   uuid not null,
    tenant_id            uuid not null,
    name                 text not null,
    url                  text not null,
    events               text[] not null,             -- event types, or '*' for every type
    is_active            boolean not null default true,
    headers              jsonb not null default '{}', -- static headers sent with every delivery
    max_retries          integer not null default 3,
    retry_delay_seconds  integer not null default 60,
    disabled_reason      text,                        -- why the service disabled it (410, persistent failure)
    disabled_at          timestamptz,
    failing_since        timestamptz,                 -- first failure after the last success
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    deleted_at           timestamptz,
    constraint endpoints_pkey primary key (id),
    constraint endpoints_name_not_blank check (btrim(name) <> ''),
    constraint endpoints_events_not_empty check (cardinality(events) > 0),
    constraint endpoints_retries_range check (max_retries between 0 and 20),
    constraint endpoints_retry_delay_range check (retry_delay_seconds between 1 and 86400),
    constraint endpoints_headers_object check (jsonb_typeof(headers) = 'object')
);
-- The list: a tenant's endpoints newest first.
create index endpoints_tenant_created_idx on webhooks.endpoints (tenant_id, created_at desc, id desc)
    where deleted_at is null;
-- Fan-out: the active endpoints of a tenant subscribed to an event type.
create index endpoints_events_gin_idx on webhooks.endpoints using gin (events)
    where deleted_at is null and is_active;

-- Signing secrets: the current one (expires_at null) and, during a rotation's grace period,
-- the previous ones, which keep signing until they expire.
create table webhooks.secrets (
    id           uuid not null,
    endpoint_id  uuid not null,
    secret       bytea not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz,
    constraint secrets_pkey primary key (id),
    constraint secrets_endpoint_fkey foreign key (endpoint_id) references webhooks.endpoints (id) on delete cascade
);
create unique index secrets_one_current_key on webhooks.secrets (endpoint_id) where expires_at is null;
create index secrets_endpoint_idx on webhooks.secrets (endpoint_id, created_at desc);

create table webhooks.deliveries (
    id               uuid not null,
    tenant_id        uuid not null,
    endpoint_id      uuid not null,
    event_id         uuid not null,                  -- the outbox event id: the stable webhook-id
    event_type       text not null,
    payload          jsonb not null,
    event_created_at timestamptz not null,
    status           text not null default 'pending',
    outcome          text,                           -- finer state: delivered, exhausted, disabled, blocked, ...
    attempt_count    integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    lease_until      timestamptz,                    -- a sender holds it until then
    leased_by        uuid,
    response_status  integer,
    response_body    text,
    error            text,
    error_class      text,                           -- timeout, dns, connect, tls, http_status, blocked
    created_at       timestamptz not null default now(),
    delivered_at     timestamptz,
    constraint deliveries_pkey primary key (id),
    constraint deliveries_endpoint_fkey foreign key (endpoint_id) references webhooks.endpoints (id),
    constraint deliveries_event_endpoint_key unique (endpoint_id, event_id),
    constraint deliveries_status_known check (status in ('pending', 'success', 'failed', 'retrying'))
);
-- The sender's claim: due, unfinished deliveries.
create index deliveries_due_idx on webhooks.deliveries (next_attempt_at)
    where status in ('pending', 'retrying');
create index deliveries_endpoint_created_idx on webhooks.deliveries (endpoint_id, created_at desc, id desc);
create index deliveries_tenant_created_idx on webhooks.deliveries (tenant_id, created_at desc);

create table webhooks.attempts (
    id               uuid not null,
    delivery_id      uuid not null,
    attempt          integer not null,
    started_at       timestamptz not null,
    duration_ms      integer not null,
    response_status  integer,
    response_body    text,
    error_class      text,
    error            text,
    constraint attempts_pkey primary key (id),
    constraint attempts_delivery_fkey foreign key (delivery_id) references webhooks.deliveries (id) on delete cascade
);
create index attempts_delivery_idx on webhooks.attempts (delivery_id, attempt);
