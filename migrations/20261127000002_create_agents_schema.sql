-- The agents service: agents, their executions (with the streamed frames kept for resume),
-- one cost record per LLM call, and per-tenant price overrides.

create schema if not exists agents;

create table agents.agents (
    id                  uuid not null,
    tenant_id           uuid not null,
    name                text not null,
    description         text,
    model               text not null,
    provider            text not null,
    system_prompt       text,
    tools               text[] not null default '{}',
    rag_collection_ids  uuid[] not null default '{}',
    max_iterations      integer not null default 10,
    temperature         double precision not null default 0.7,
    metadata            jsonb not null default '{}',
    created_by          uuid,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    deleted_at          timestamptz,                       -- soft delete
    constraint agents_pkey primary key (id),
    constraint agents_name_not_blank check (btrim(name) <> ''),
    constraint agents_model_not_blank check (btrim(model) <> ''),
    constraint agents_max_iterations_range check (max_iterations between 1 and 50),
    constraint agents_temperature_range check (temperature >= 0 and temperature <= 2),
    constraint agents_metadata_object check (jsonb_typeof(metadata) = 'object')
);
-- Names are unique per tenant among live agents (case-insensitive); a deleted agent's name
-- can be reused.
create unique index agents_tenant_name_key on agents.agents (tenant_id, lower(name))
    where deleted_at is null;
-- The list: a tenant's live agents newest first.
create index agents_tenant_created_idx on agents.agents (tenant_id, created_at desc, id desc)
    where deleted_at is null;

create table agents.executions (
    id                 uuid not null,
    tenant_id          uuid not null,
    agent_id           uuid not null,
    status             text not null default 'pending',
    outcome            text,                -- finer state: completed, failed, cancelled, abandoned, max_iterations, timed_out
    user_message       text not null,
    context            jsonb not null default '{}',
    response           text,
    tools_used         text[] not null default '{}',
    tool_calls         jsonb not null default '[]',
    prompt_tokens      integer not null default 0,
    completion_tokens  integer not null default 0,
    cost_nanos         bigint not null default 0,          -- 1e-9 USD
    unpriced           boolean not null default false,     -- a call used a model without a price
    error              text,
    stream             boolean not null default false,
    provider           text not null,
    model              text not null,
    owner_id           uuid,                                -- the process running it
    heartbeat_at       timestamptz not null default now(),
    created_by         uuid,
    created_at         timestamptz not null default now(),
    started_at         timestamptz,
    completed_at       timestamptz,
    constraint executions_pkey primary key (id),
    constraint executions_agent_fkey foreign key (agent_id) references agents.agents (id),
    constraint executions_status_known check (status in ('pending', 'running', 'completed', 'failed'))
);
create index executions_tenant_created_idx on agents.executions (tenant_id, created_at desc, id desc);
create index executions_tenant_agent_created_idx on agents.executions (tenant_id, agent_id, created_at desc);
create index executions_tenant_status_created_idx on agents.executions (tenant_id, status, created_at desc);
-- The abandoned-execution sweep only looks at unfinished rows.
create index executions_unfinished_heartbeat_idx on agents.executions (heartbeat_at)
    where status in ('pending', 'running');

-- Streamed frames, persisted in batches so a client can resume with Last-Event-ID from any
-- replica.
create table agents.execution_frames (
    execution_id  uuid not null,
    seq           integer not null,
    data          text not null,
    constraint execution_frames_pkey primary key (execution_id, seq),
    constraint execution_frames_execution_fkey foreign key (execution_id)
        references agents.executions (id) on delete cascade
);

create table agents.cost_records (
    id                 uuid not null,
    tenant_id          uuid not null,
    agent_id           uuid not null,
    execution_id       uuid,
    provider           text not null,
    model              text not null,
    prompt_tokens      integer not null,
    completion_tokens  integer not null,
    cost_nanos         bigint not null,      -- 1e-9 USD; 0 with unpriced = true means "unknown"
    unpriced           boolean not null,
    usage_estimated    boolean not null,     -- the provider did not report usage
    price_source       text,                 -- price table version, or 'tenant_override'
    duration_ms        integer not null,
    status             text not null,
    streamed           boolean not null,
    created_at         timestamptz not null default now(),
    constraint cost_records_pkey primary key (id),
    constraint cost_records_status_known check (status in ('success', 'failed', 'cancelled'))
);
create index cost_records_tenant_created_idx on agents.cost_records (tenant_id, created_at desc);
create index cost_records_execution_idx on agents.cost_records (execution_id) where execution_id is not null;

create table agents.price_overrides (
    tenant_id            uuid not null,
    model                text not null,
    input_usd_per_mtok   double precision not null,
    output_usd_per_mtok  double precision not null,
    updated_at           timestamptz not null default now(),
    constraint price_overrides_pkey primary key (tenant_id, model),
    constraint price_overrides_non_negative check (input_usd_per_mtok >= 0 and output_usd_per_mtok >= 0)
);
