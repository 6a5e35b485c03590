-- The sender's claim walks the queue endpoint by endpoint: a loose index scan finds the
-- endpoints with unfinished deliveries (one probe each) and each endpoint's due deliveries are
-- a range of this index in due order. Its predicate is the claim's, so its plan is the same
-- whether or not the table has statistics (a young table, a burst ahead of autovacuum).
create index deliveries_endpoint_due_idx on webhooks.deliveries (endpoint_id, next_attempt_at)
    where status in ('pending', 'retrying');
-- The due-time index it replaces would compete for the per-endpoint probes once statistics
-- exist (its due-time order matches the heap's, so the planner would rather filter a whole
-- backlog by endpoint); the queue depth gauge reads the new index instead.
drop index webhooks.deliveries_due_idx;
