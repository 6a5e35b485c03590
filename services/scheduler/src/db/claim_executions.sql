-- The runner's claim (services/scheduler/src/db/executions.rs, `claim`): read by
-- `query_file_as!` and by the test that checks its plan on a database without statistics.
-- $1 the engine, $2 now, $3 lease until, $4 limit.
--
-- `claimable` is an ordered range scan of `executions_pending_idx` (run_after, id) that stops
-- at the limit; the schedules with a running execution are read once (the running ones are
-- few: engines × concurrency), not probed per candidate through an index that also holds
-- every queued execution; the update then probes the primary key for exactly the claimed
-- rows (an array, so no estimate can turn it into a scan of the table).
with claimable as materialized (
    select e.id from scheduler.executions e
    where e.status = 'pending' and e.run_after <= $2
      and (e.overlap_policy = 'allow'
           or e.schedule_id <> all(array(select r.schedule_id from scheduler.executions r
                                         where r.status = 'running')))
    order by e.run_after, e.id
    limit $4
    for update skip locked)
update scheduler.executions e
set status = 'running', attempt = e.attempt + 1, leased_by = $1,
    lease_until = $3, started_at = coalesce(e.started_at, $2),
    attempt_started_at = $2
where e.id = any(array(select id from claimable))
returning e.id, e.tenant_id, e.schedule_id, e.agent_id, e.trigger as "trigger: ExecutionTrigger",
          e.fire_time,
          e.attempt, e.max_retries, e.retry_delay_seconds, e.timeout_seconds,
          e.task_config, e.agent_execution_id,
          e.attempt_started_at as "attempt_started_at!"
