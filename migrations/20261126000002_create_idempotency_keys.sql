-- Idempotency-Key support for mutating POSTs (SPEC §2): the first response to a key is kept
-- 24 h and replayed for repeats with the same request. Shared by every service.

create schema if not exists platform;

create table platform.idempotency_keys (
    scope         text not null,                -- caller identity + method + path
    key           text not null,                -- the client's Idempotency-Key
    request_hash  bytea not null,               -- SHA-256 of the query string and body
    status        smallint,                     -- null while the first request is running
    content_type  text,
    location      text,
    body          bytea,
    replayable    boolean not null default true, -- false: the response held a one-time secret
    created_at    timestamptz not null default now(),
    completed_at  timestamptz,
    constraint idempotency_keys_pkey primary key (scope, key)
);
-- Expiry sweeps.
create index idempotency_keys_created_idx on platform.idempotency_keys (created_at);
