-- Signing secrets at rest: sealed (ChaCha20-Poly1305 under the service's secret key, bound to
-- the endpoint) when a key is configured; rows written without one stay readable as before.
alter table webhooks.secrets add column sealed boolean not null default false;

-- Every secret that signs for an endpoint now, as stored: the current one first, then the
-- previous ones still in their rotation grace period; `sealed[i]` says how `secrets[i]` is
-- stored. Used wherever the sender loads endpoints.
create function webhooks.signing_secrets(endpoint uuid, out secrets bytea[], out sealed boolean[])
language sql stable as $$
    select coalesce(array_agg(s.secret order by s.expires_at is not null, s.created_at desc), '{}'),
           coalesce(array_agg(s.sealed order by s.expires_at is not null, s.created_at desc), '{}')
    from webhooks.secrets s
    where s.endpoint_id = endpoint and (s.expires_at is null or s.expires_at > now())
$$;
