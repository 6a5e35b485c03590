//! `auth.api_keys`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use temponest_auth_client::permissions::{Permission, Role};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// New key fields.
#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
    pub scopes: &'a [Permission],
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut PgConnection, key: NewApiKey<'_>) -> sqlx::Result<ApiKeyRow> {
    let scopes: Vec<String> = key.scopes.iter().map(|p| p.as_str().to_owned()).collect();
    sqlx::query_as!(
        ApiKeyRow,
        r#"insert into auth.api_keys (id, tenant_id, user_id, name, prefix, key_hash, scopes, expires_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id, tenant_id, user_id, name, prefix, scopes, expires_at, last_used_at, created_at"#,
        key.id,
        key.tenant_id,
        key.user_id,
        key.name,
        key.prefix,
        key.key_hash,
        &scopes,
        key.expires_at
    )
    .fetch_one(conn)
    .await
}

/// Live keys of a tenant (optionally of one user), newest first, and the total.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<ApiKeyRow>, i64)> {
    let rows = sqlx::query_as!(
        ApiKeyRow,
        r#"select id, tenant_id, user_id, name, prefix, scopes, expires_at, last_used_at, created_at
           from auth.api_keys
           where tenant_id = $1 and revoked_at is null and ($2::uuid is null or user_id = $2)
           order by created_at desc, id desc
           offset $3 limit $4"#,
        tenant_id,
        user_id,
        skip,
        limit
    )
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from auth.api_keys
           where tenant_id = $1 and revoked_at is null and ($2::uuid is null or user_id = $2)"#,
        tenant_id,
        user_id
    )
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// Revokes a live key of the tenant (optionally only if owned by `user_id`); returns its
/// hash so cached introspections can be invalidated.
pub async fn revoke(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    user_id: Option<Uuid>,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!(
        r#"update auth.api_keys set revoked_at = now()
           where tenant_id = $1 and id = $2 and revoked_at is null
             and ($3::uuid is null or user_id = $3)
           returning key_hash"#,
        tenant_id,
        id,
        user_id
    )
    .fetch_optional(conn)
    .await
}

/// What introspection needs: the key and its owner's current state.
#[derive(Debug, Clone)]
pub struct ResolvedKeyRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub roles: Vec<Role>,
    /// As stored: names this version does not know are dropped where they are read.
    pub scopes: Vec<String>,
}

/// A live, unexpired key whose owner and tenant are active.
pub async fn resolve(pool: &PgPool, key_hash: &[u8]) -> sqlx::Result<Option<ResolvedKeyRow>> {
    temponest_db::timed(
        "api_keys.resolve",
        sqlx::query_as!(
            ResolvedKeyRow,
            r#"select k.id, k.tenant_id, k.user_id, u.email, u.roles as "roles: Vec<Role>", k.scopes
               from auth.api_keys k
               join auth.users u on u.id = k.user_id
               join auth.tenants t on t.id = k.tenant_id
               where k.key_hash = $1 and k.revoked_at is null
                 and (k.expires_at is null or k.expires_at > now())
                 and u.is_active and t.is_active"#,
            key_hash
        )
        .fetch_optional(pool),
    )
    .await
}

/// Writes batched last-used times in one statement.
pub async fn record_last_used(
    pool: &PgPool,
    ids: &[Uuid],
    at: &[DateTime<Utc>],
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update auth.api_keys k set last_used_at = greatest(k.last_used_at, v.at)
           from unnest($1::uuid[], $2::timestamptz[]) as v(id, at)
           where k.id = v.id"#,
        ids,
        at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Hashes of every live key of a user (to invalidate cached introspections when the user's
/// roles or active flag change).
pub async fn hashes_for_user(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar!(
        "select key_hash from auth.api_keys where user_id = $1 and revoked_at is null",
        user_id
    )
    .fetch_all(conn)
    .await
}
