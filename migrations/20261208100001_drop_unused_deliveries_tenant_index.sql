-- No query reads webhooks.deliveries by tenant alone: the API lists an endpoint's deliveries
-- (deliveries_endpoint_created_idx) and reads one delivery by id, the senders claim through
-- deliveries_endpoint_due_idx and retention purges through the two status indexes. This index
-- was only written: one more entry for every delivery created and for every status change
-- (which is never a HOT update), inside the publish statement that `POST /events` commits
-- before it answers.
drop index if exists webhooks.deliveries_tenant_created_idx;
