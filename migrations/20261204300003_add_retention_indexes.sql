-- Retention purges read expired rows oldest first through these indexes, a bounded batch at a
-- time (platform.outbox already has outbox_processed_idx).

-- Delivered and failed deliveries by age: each purge is a range of its own index (failed ones
-- are kept longer, so one index for both would walk the failed rows on every success purge).
create index deliveries_success_created_idx on webhooks.deliveries (created_at)
    where status = 'success';
create index deliveries_failed_created_idx on webhooks.deliveries (created_at)
    where status = 'failed';

-- Login throttle rows by last change: rows whose window and lockout are over are deleted.
create index login_throttle_updated_idx on auth.login_throttle (updated_at);
