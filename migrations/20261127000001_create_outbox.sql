-- The transactional outbox shared by every service: a service inserts its event in the same
-- transaction as the change it describes, so an event exists if and only if the change
-- committed. The webhooks dispatcher claims pending rows (skip locked) and fans them out.

create schema if not exists platform;

create table platform.outbox (
    id            bigint generated always as identity,
    event_id      uuid not null,                  -- stable id shown to consumers
    tenant_id     uuid not null,
    event_type    text not null,                  -- e.g. agent.created
    payload       jsonb not null,                 -- the event's data object
    created_at    timestamptz not null default now(),
    processed_at  timestamptz,                    -- set when the dispatcher has fanned it out
    constraint outbox_pkey primary key (id),
    constraint outbox_event_id_key unique (event_id),
    constraint outbox_event_type_format check (event_type ~ '^[a-z_]+(\.[a-z_]+)+$')
);
-- The dispatcher's claim: oldest pending first.
create index outbox_pending_idx on platform.outbox (id) where processed_at is null;
-- Retention sweeps of processed rows.
create index outbox_processed_idx on platform.outbox (processed_at) where processed_at is not null;
