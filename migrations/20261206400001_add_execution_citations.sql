-- The knowledge chunks an execution's `knowledge_search` calls returned (document, chunk,
-- collection, score), written in the finishing transaction; [] when the tool was not used.
alter table agents.executions add column citations jsonb not null default '[]'::jsonb;
