-- Signing secrets at rest: sealed (ChaCha20-Poly1305 under the service's secret key, bound to
-- the endpoint) when a key is configured; rows written without one stay readable as before.
alter table webhooks.secrets add column sealed boolean not null default false;

