-- Multi-agent collaboration sessions (issue 15). A session runs one pattern over a tenant's
-- agents; each of its steps is a real execution (agents.executions), recorded here under a
-- stable step key so a session resumed after a restart re-runs only the steps that had not
-- finished, never matching outputs by position.

create table agents.collaboration_sessions (
    id            uuid not null,
    tenant_id     uuid not null,
    pattern       text not null,
    agent_ids     uuid[] not null,
    -- The validated request (inputs, config, context): what a resumed session runs again.
    request       jsonb not null,
    status        text not null default 'pending',
    outcome       text,                -- finer state: completed, failed, cancelled, converged, max_iterations, budget_exceeded
    error         text,
    final_output  text,
    owner_id      uuid,                -- the process driving it; null = free to be resumed
    created_by    uuid not null,
    created_at    timestamptz not null default now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    constraint collaboration_sessions_pkey primary key (id),
    constraint collaboration_sessions_pattern_known
        check (pattern in ('sequential', 'parallel', 'iterative', 'hierarchical')),
    constraint collaboration_sessions_status_known
        check (status in ('pending', 'running', 'completed', 'failed')),
    constraint collaboration_sessions_agents_not_empty check (cardinality(agent_ids) > 0)
);
-- The list: newest first, optionally by pattern or status.
create index collaboration_sessions_tenant_created_idx
    on agents.collaboration_sessions (tenant_id, created_at desc, id desc);
create index collaboration_sessions_tenant_pattern_created_idx
    on agents.collaboration_sessions (tenant_id, pattern, created_at desc);
create index collaboration_sessions_tenant_status_created_idx
    on agents.collaboration_sessions (tenant_id, status, created_at desc);
-- Resuming: unfinished sessions by owner (a dead owner's are released, free ones claimed).
create index collaboration_sessions_unfinished_owner_idx
    on agents.collaboration_sessions (owner_id)
    where status in ('pending', 'running');

-- One row per attempt of a step: the link from an execution to its session. A step that was
-- interrupted (the process stopped) is attempted again under the same key.
create table agents.collaboration_steps (
    session_id    uuid not null,
    step_key      text not null,
    attempt       integer not null,
    -- Where the step is shown among the session's results.
    ordinal       integer not null,
    agent_id      uuid not null,
    input         text not null,
    execution_id  uuid not null,
    created_at    timestamptz not null default now(),
    constraint collaboration_steps_pkey primary key (session_id, step_key, attempt),
    constraint collaboration_steps_session_fkey foreign key (session_id)
        references agents.collaboration_sessions (id) on delete cascade,
    constraint collaboration_steps_execution_fkey foreign key (execution_id)
        references agents.executions (id),
    constraint collaboration_steps_attempt_positive check (attempt > 0)
);
-- An execution belongs to at most one session (and is found from it).
create unique index collaboration_steps_execution_key on agents.collaboration_steps (execution_id);
