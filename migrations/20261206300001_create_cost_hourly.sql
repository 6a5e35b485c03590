-- Hourly roll-up of agents.cost_records: one row per tenant, UTC hour, agent, provider, model
-- and project ('' when the call named none), kept equal to the sum of the raw rows by
-- statement-level triggers in the writing transaction itself (inserts add, deletes subtract,
-- a truncate empties it). The cost reports read whole hours here and only the partial hours
-- at a period's edges from the raw rows.
create table agents.cost_hourly (
    tenant_id      uuid        not null,
    hour           timestamptz not null,
    agent_id       uuid        not null,
    provider       text        not null,
    model          text        not null,
    project_id     text        not null default '',
    cost_nanos     bigint      not null default 0,
    calls          bigint      not null default 0,
    input_tokens   bigint      not null default 0,
    output_tokens  bigint      not null default 0,
    unpriced_calls bigint      not null default 0,
    primary key (tenant_id, hour, agent_id, provider, model, project_id)
);

create function agents.cost_hourly_add() returns trigger language plpgsql as $$
begin
    -- Rows in key order: concurrent writers lock roll-up rows in the same order.
    insert into agents.cost_hourly as h (tenant_id, hour, agent_id, provider, model,
            project_id, cost_nanos, calls, input_tokens, output_tokens, unpriced_calls)
    select tenant_id, date_trunc('hour', created_at, 'UTC'), agent_id, provider, model,
           coalesce(project_id, ''), sum(cost_nanos), count(*), sum(prompt_tokens),
           sum(completion_tokens), count(*) filter (where unpriced)
    from added
    group by 1, 2, 3, 4, 5, 6
    order by 1, 2, 3, 4, 5, 6
    on conflict (tenant_id, hour, agent_id, provider, model, project_id) do update
    set cost_nanos = h.cost_nanos + excluded.cost_nanos,
        calls = h.calls + excluded.calls,
        input_tokens = h.input_tokens + excluded.input_tokens,
        output_tokens = h.output_tokens + excluded.output_tokens,
        unpriced_calls = h.unpriced_calls + excluded.unpriced_calls;
    return null;
end
$$;

create function agents.cost_hourly_subtract() returns trigger language plpgsql as $$
begin
    with gone as (
        select tenant_id, date_trunc('hour', created_at, 'UTC') as hour, agent_id, provider,
               model, coalesce(project_id, '') as project_id, sum(cost_nanos) as cost_nanos,
               count(*) as calls, sum(prompt_tokens) as input_tokens,
               sum(completion_tokens) as output_tokens,
               count(*) filter (where unpriced) as unpriced_calls
        from removed
        group by 1, 2, 3, 4, 5, 6
    )
    update agents.cost_hourly h
    set cost_nanos = h.cost_nanos - g.cost_nanos,
        calls = h.calls - g.calls,
        input_tokens = h.input_tokens - g.input_tokens,
        output_tokens = h.output_tokens - g.output_tokens,
        unpriced_calls = h.unpriced_calls - g.unpriced_calls
    from gone g
    where h.tenant_id = g.tenant_id and h.hour = g.hour and h.agent_id = g.agent_id
      and h.provider = g.provider and h.model = g.model and h.project_id = g.project_id;
    -- An hour whose every record is gone (the retention purge) leaves no row behind.
    delete from agents.cost_hourly h
    using (select distinct tenant_id, date_trunc('hour', created_at, 'UTC') as hour
           from removed) g
    where h.tenant_id = g.tenant_id and h.hour = g.hour and h.calls <= 0;
    return null;
end
$$;

create function agents.cost_hourly_truncate() returns trigger language plpgsql as $$
begin
    truncate agents.cost_hourly;
    return null;
end
$$;

create trigger cost_records_hourly_add after insert on agents.cost_records
    referencing new table as added for each statement execute function agents.cost_hourly_add();
create trigger cost_records_hourly_subtract after delete on agents.cost_records
    referencing old table as removed for each statement
    execute function agents.cost_hourly_subtract();
create trigger cost_records_hourly_truncate after truncate on agents.cost_records
    for each statement execute function agents.cost_hourly_truncate();

-- The records written before this migration.
insert into agents.cost_hourly (tenant_id, hour, agent_id, provider, model, project_id,
        cost_nanos, calls, input_tokens, output_tokens, unpriced_calls)
select tenant_id, date_trunc('hour', created_at, 'UTC'), agent_id, provider, model,
       coalesce(project_id, ''), sum(cost_nanos), count(*), sum(prompt_tokens),
       sum(completion_tokens), count(*) filter (where unpriced)
from agents.cost_records
group by 1, 2, 3, 4, 5, 6;

-- Cost records are facts about calls that happened: never changed, so the roll-up never has
-- to follow an update.
create function agents.cost_records_refuse_update() returns trigger language plpgsql as $$
begin
    raise exception 'agents.cost_records is append-only';
end
$$;
create trigger cost_records_append_only before update on agents.cost_records
    for each statement execute function agents.cost_records_refuse_update();
