-- The runner's claim takes pending executions in (run_after, id) order. An index on run_after
-- alone left a sort to do, and without statistics (a young table, a burst ahead of
-- autovacuum) the planner sorted every pending execution instead — combining unrelated
-- indexes to find them — on every claim. With the claim's order in the index, the claim is an
-- ordered range scan that stops at its limit, with or without statistics.
drop index scheduler.executions_pending_idx;
create index executions_pending_idx on scheduler.executions (run_after, id) where status = 'pending';
