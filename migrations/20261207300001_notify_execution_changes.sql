-- The live execution feed (`GET /executions/events`): every new execution and every change of
-- an execution's status or of the totals it shows (tokens, cost) is announced on the channel
-- `agents_execution_changes`, delivered at commit by the transaction that wrote it. A trigger,
-- so no writer (run, cancel, abandoned sweep, dead-instance reaper, collaboration) can forget
-- it. The payload is the execution's summary, a few hundred bytes (NOTIFY allows 8,000): the
-- listening process needs no query to fan it out.
create function agents.notify_execution_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('agents_execution_changes', json_build_object(
        'tenant_id', new.tenant_id, 'id', new.id, 'agent_id', new.agent_id,
        'status', new.status, 'outcome', new.outcome,
        'prompt_tokens', new.prompt_tokens, 'completion_tokens', new.completion_tokens,
        'cost_nanos', new.cost_nanos, 'unpriced', new.unpriced,
        'created_at', new.created_at, 'started_at', new.started_at,
        'completed_at', new.completed_at)::text);
    return null;
end
$$;

create trigger executions_notify_created
    after insert on agents.executions
    for each row execute function agents.notify_execution_change();

create trigger executions_notify_changed
    after update of status, prompt_tokens, completion_tokens, cost_nanos on agents.executions
    for each row
    when (old.status is distinct from new.status
          or old.prompt_tokens is distinct from new.prompt_tokens
          or old.completion_tokens is distinct from new.completion_tokens
          or old.cost_nanos is distinct from new.cost_nanos)
    execute function agents.notify_execution_change();
