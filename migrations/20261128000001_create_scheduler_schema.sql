-- The scheduler service: schedules (cron, interval or one-shot), their executions (one per
-- fire time, or per manual trigger) and the fire times that were skipped or missed.

create schema if not exists scheduler;

create table scheduler.schedules (
    id                      uuid not null,
    tenant_id               uuid not null,
    agent_id                uuid not null,
    name                    text not null,
    schedule_type           text not null,                -- cron | interval | once
    cron_expression         text,
    interval_seconds        bigint,
    run_at                  timestamptz,                  -- one-shot time
    anchor                  timestamptz not null,         -- intervals fire at anchor + k * interval
    timezone                text not null default 'UTC',
    task_config             jsonb not null,               -- {user_message, context}
    is_active               boolean not null default true,
    overlap_policy          text not null default 'skip',
    misfire_policy          text not null default 'fire_once',
    catchup_window_seconds  integer not null default 3600,
    max_retries             integer not null default 3,
    retry_delay_seconds     integer not null default 60,
    timeout_seconds         integer not null default 300,
    next_run                timestamptz,                  -- null: nothing left to fire
    last_run                timestamptz,                  -- the latest fire time that ran
    run_count               bigint not null default 0,
    skipped_count           bigint not null default 0,    -- fire times skipped by the overlap policy
    missed_count            bigint not null default 0,    -- fire times missed during downtime
    created_by              uuid,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    deleted_at              timestamptz,
    constraint schedules_pkey primary key (id),
    constraint schedules_type_known check (schedule_type in ('cron', 'interval', 'once')),
    constraint schedules_type_fields check (
        (schedule_type = 'cron' and cron_expression is not null)
        or (schedule_type = 'interval' and interval_seconds is not null)
        or (schedule_type = 'once' and run_at is not null)),
    constraint schedules_overlap_known check (overlap_policy in ('skip', 'allow', 'buffer_one')),
    constraint schedules_misfire_known check (misfire_policy in ('skip', 'fire_once', 'fire_all')),
    constraint schedules_retries_range check (max_retries between 0 and 20),
    constraint schedules_retry_delay_range check (retry_delay_seconds between 1 and 86400),
    constraint schedules_timeout_range check (timeout_seconds between 1 and 86400),
    constraint schedules_catchup_range check (catchup_window_seconds between 0 and 31622400),
    constraint schedules_task_object check (jsonb_typeof(task_config) = 'object')
);
-- The engine's claim: active schedules by due time (the seeds' ready-to-run partial index).
create index schedules_due_idx on scheduler.schedules (next_run)
    where is_active and deleted_at is null and next_run is not null;
-- Lists: a tenant's schedules newest first, optionally of one agent.
create index schedules_tenant_created_idx on scheduler.schedules (tenant_id, created_at desc, id desc)
    where deleted_at is null;
create index schedules_tenant_agent_created_idx
    on scheduler.schedules (tenant_id, agent_id, created_at desc, id desc)
    where deleted_at is null;

create table scheduler.executions (
    id                   uuid not null,
    tenant_id            uuid not null,
    schedule_id          uuid not null,
    agent_id             uuid not null,
    trigger              text not null,                    -- schedule | manual
    fire_time            timestamptz not null,             -- the due time (manual: when requested)
    status               text not null default 'pending',
    outcome              text,                             -- completed, failed, timed_out, cancelled, abandoned
    attempt              integer not null default 0,       -- attempts started so far
    max_retries          integer not null,
    retry_delay_seconds  integer not null,
    timeout_seconds      integer not null,
    overlap_policy       text not null,
    task_config          jsonb not null,
    run_after            timestamptz not null,             -- may start from then (retries wait)
    leased_by            uuid,                             -- the engine running it
    lease_until          timestamptz,                      -- renewed by heartbeats while it runs
    agent_execution_id   uuid,
    result               text,
    prompt_tokens        bigint not null default 0,
    completion_tokens    bigint not null default 0,
    cost_usd             double precision not null default 0,
    error                text,
    attempts             jsonb not null default '[]',      -- one entry per finished attempt
    created_at           timestamptz not null default now(),
    started_at           timestamptz,                      -- first attempt's start
    attempt_started_at   timestamptz,                      -- current attempt's start
    completed_at         timestamptz,
    constraint executions_pkey primary key (id),
    constraint executions_schedule_fkey foreign key (schedule_id) references scheduler.schedules (id),
    constraint executions_status_known check (status in ('pending', 'running', 'completed', 'failed')),
    constraint executions_trigger_known check (trigger in ('schedule', 'manual'))
);
-- Exactly once: a fire time of a schedule runs at most one execution, whatever the number
-- of engines.
create unique index executions_schedule_fire_key on scheduler.executions (schedule_id, fire_time)
    where trigger = 'schedule';
-- The runner's claim: pending executions by start time.
create index executions_pending_idx on scheduler.executions (run_after) where status = 'pending';
-- The rescuer: running executions by lease expiry.
create index executions_running_idx on scheduler.executions (lease_until) where status = 'running';
-- Overlap checks: a schedule's unfinished executions.
create index executions_schedule_active_idx on scheduler.executions (schedule_id)
    where status in ('pending', 'running');
-- Lists: a schedule's executions newest first; a tenant's.
create index executions_schedule_created_idx
    on scheduler.executions (schedule_id, created_at desc, id desc);
create index executions_tenant_created_idx on scheduler.executions (tenant_id, created_at desc, status);
-- Retention: finished executions by age.
create index executions_finished_idx on scheduler.executions (completed_at) where completed_at is not null;

-- Fire times that did not run: skipped by the overlap policy or missed during downtime.
create table scheduler.skipped_fires (
    schedule_id   uuid not null,
    fire_time     timestamptz not null,
    tenant_id     uuid not null,
    reason        text not null,                           -- overlap | missed
    recorded_at   timestamptz not null default now(),
    constraint skipped_fires_pkey primary key (schedule_id, fire_time),
    constraint skipped_fires_schedule_fkey foreign key (schedule_id) references scheduler.schedules (id),
    constraint skipped_fires_reason_known check (reason in ('overlap', 'missed'))
);
create index skipped_fires_recorded_idx on scheduler.skipped_fires (recorded_at);
