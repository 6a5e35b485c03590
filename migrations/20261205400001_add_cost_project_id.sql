-- Spend split by project: an execution may carry a project id (in its body or as
-- `context.project_id`); it is copied onto each of its cost records, which the cost reports
-- filter by.

alter table agents.executions add column project_id text;
alter table agents.cost_records add column project_id text;

-- The cost reports' filters, each a range over created_at inside one tenant (the unfiltered
-- reports use cost_records_tenant_created_idx).
create index cost_records_tenant_project_created_idx
    on agents.cost_records (tenant_id, project_id, created_at desc) where project_id is not null;
create index cost_records_tenant_agent_created_idx
    on agents.cost_records (tenant_id, agent_id, created_at desc);
