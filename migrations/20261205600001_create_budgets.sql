-- Budgets (issue 13): spending limits per tenant (agent_id null) or per agent, enforced before
-- every model call by reserving the call's worst-case cost (see docs/architecture.md "Budgets").
create table agents.budgets (
    id                  uuid primary key,
    tenant_id           uuid not null,
    agent_id            uuid,                -- null: the tenant's budget
    daily_limit_nanos   bigint,              -- null: no daily limit
    monthly_limit_nanos bigint,              -- null: no monthly limit
    alert_threshold     double precision not null default 0.8,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint budgets_tenant_agent_key unique nulls not distinct (tenant_id, agent_id),
    constraint budgets_limits_non_negative check (daily_limit_nanos >= 0 and monthly_limit_nanos >= 0),
    constraint budgets_alert_threshold_range check (alert_threshold > 0 and alert_threshold <= 1)
);

-- What each budget has spent and holds reserved in one UTC day or month. Reservations are
-- taken with the row locked, so concurrent calls cannot overspend.
create table agents.budget_usage (
    budget_id     uuid not null references agents.budgets (id) on delete cascade,
    period        text not null,
    period_start  date not null,
    spent_nanos    bigint not null default 0,
    reserved_nanos bigint not null default 0,
    primary key (budget_id, period, period_start),
    constraint budget_usage_period_known check (period in ('day', 'month'))
);

-- One reservation per model call (id = the call's cost record id) until it is settled or
-- released; the abandoned-execution sweep releases those of executions whose process died.
create table agents.budget_reservations (
    id            uuid primary key,
    execution_id  uuid not null,
    amount_nanos  bigint not null,
    day           date not null,
    month         date not null,
    budget_ids    uuid[] not null,
    created_at    timestamptz not null default now()
);
create index budget_reservations_execution_idx on agents.budget_reservations (execution_id);

-- Alerts raised, at most one per budget, period and kind.
create table agents.budget_alerts (
    budget_id     uuid not null references agents.budgets (id) on delete cascade,
    period        text not null,
    period_start  date not null,
    kind          text not null,
    created_at    timestamptz not null default now(),
    primary key (budget_id, period, period_start, kind),
    constraint budget_alerts_kind_known check (kind in ('threshold', 'limit'))
);
