-- Auth service: tenants, users, sessions and refresh tokens, API keys, signing keys,
-- login throttling and the audit log. Every constraint is named: the web layer maps names
-- to 409/422 responses (crates/web/src/error.rs).

create schema if not exists auth;

create table auth.tenants (
    id          uuid primary key,
    name        text not null,
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint tenants_name_not_blank check (length(btrim(name)) > 0)
);

create table auth.users (
    id              uuid primary key,
    tenant_id       uuid not null,
    email           text not null,            -- stored lower-cased
    full_name       text,
    password_hash   text not null,
    roles           text[] not null default '{}',
    is_active       boolean not null default true,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint users_tenant_fk foreign key (tenant_id) references auth.tenants (id) on delete cascade,
    constraint users_email_key unique (email),
    constraint users_roles_known check (roles <@ array['admin', 'manager', 'developer', 'viewer']::text[])
);
-- Tenant user lists, newest first.
create index users_tenant_created_idx on auth.users (tenant_id, created_at desc, id desc);

-- A session is a refresh-token family: logout and reuse detection revoke it as a whole.
create table auth.sessions (
    id                uuid primary key,
    user_id           uuid not null,
    tenant_id         uuid not null,
    created_at        timestamptz not null default now(),
    last_refreshed_at timestamptz,
    revoked_at        timestamptz,
    revoked_reason    text,
    ip                text,
    user_agent        text,
    constraint sessions_user_fk foreign key (user_id) references auth.users (id) on delete cascade
);
create index sessions_user_idx on auth.sessions (user_id) where revoked_at is null;

create table auth.refresh_tokens (
    id            uuid primary key,
    session_id    uuid not null,
    generation    integer not null,
    token_hash    bytea not null,               -- SHA-256 of the token
    successor_id  uuid,
    rotated_at    timestamptz,
    expires_at    timestamptz not null,
    created_at    timestamptz not null default now(),
    constraint refresh_tokens_session_fk foreign key (session_id) references auth.sessions (id) on delete cascade,
    constraint refresh_tokens_hash_key unique (token_hash),
    constraint refresh_tokens_generation_key unique (session_id, generation)
);

create table auth.api_keys (
    id            uuid primary key,
    tenant_id     uuid not null,
    user_id       uuid not null,
    name          text not null,
    prefix        text not null,                -- first characters, for display only
    key_hash      bytea not null,               -- SHA-256 of the whole key
    scopes        text[] not null default '{}',
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz not null default now(),
    constraint api_keys_tenant_fk foreign key (tenant_id) references auth.tenants (id) on delete cascade,
    constraint api_keys_user_fk foreign key (user_id) references auth.users (id) on delete cascade,
    constraint api_keys_hash_key unique (key_hash),
    constraint api_keys_name_not_blank check (length(btrim(name)) > 0)
);
-- Tenant key lists (revoked keys excluded), newest first.
create index api_keys_tenant_created_idx on auth.api_keys (tenant_id, created_at desc, id desc)
    where revoked_at is null;

-- Ed25519 signing keys. Exactly one key signs (retired_at is null); retired keys stay
-- published in JWKS until every token they signed has expired.
create table auth.signing_keys (
    kid          text primary key,
    private_key  bytea not null,                -- 32-byte Ed25519 seed
    public_key   bytea not null,
    created_at   timestamptz not null default now(),
    retired_at   timestamptz
);
create unique index signing_keys_one_active on auth.signing_keys ((true)) where retired_at is null;

-- Server-side secrets generated on first start (e.g. the refresh-token derivation key).
create table auth.secrets (
    name        text primary key,
    value       bytea not null,
    created_at  timestamptz not null default now()
);

-- Failed-login counters per email (whether or not the account exists, so lockout does not
-- reveal which emails are registered). Shared by every replica.
create table auth.login_throttle (
    email         text primary key,
    failed_count  integer not null default 0,
    lockouts      integer not null default 0,   -- lockouts in the current streak (doubles the wait)
    locked_until  timestamptz,
    updated_at    timestamptz not null default now()
);

create table auth.audit_log (
    id          bigint generated always as identity primary key,
    tenant_id   uuid,
    user_id     uuid,
    event       text not null,
    ip          text,
    details     jsonb not null default '{}'::jsonb,
    created_at  timestamptz not null default now()
);
create index audit_log_tenant_created_idx on auth.audit_log (tenant_id, created_at desc);
