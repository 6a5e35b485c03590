-- Cost-record retention (`executions.cost_retention_days`) deletes the oldest rows of every
-- tenant a bounded batch at a time; cost_records_tenant_created_idx leads with the tenant, so
-- the purge needs an index on created_at alone to find them without a scan.
create index cost_records_created_idx on agents.cost_records (created_at);
