-- An unfinished idempotent request proves it is still running by touching heartbeat_at; its
-- key is taken over only when that heartbeat is stale (the process that ran it died), never
-- merely because the request is slow (a synchronous execution may run for 11 minutes).
alter table platform.idempotency_keys add column heartbeat_at timestamptz not null default now();
