//! `auth.tenants` and `auth.users`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use temponest_auth_client::permissions::Role;
use uuid::Uuid;

/// A user with its tenant's name.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub email: String,
    pub full_name: Option<String>,
    pub roles: Vec<Role>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

// Every statement that reads or returns whole users goes through `user_rows!`: a user
// (aliased `u`, also the written row of an insert or update in `with u as (...)`) joined with
// its tenant (`t`).
temponest_db::define_rows! {
    $ user_rows: UserRow { id, tenant_id, tenant_name, email, full_name, roles, is_active,
                           created_at },
    columns: r#"u.id, u.tenant_id, t.name as tenant_name, u.email, u.full_name,
                u.roles as "roles: Vec<Role>", u.is_active, u.created_at"#,
}

/// What login needs.
#[derive(Debug, Clone)]
pub struct LoginRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub is_active: bool,
    pub tenant_active: bool,
}

pub async fn insert_tenant(conn: &mut PgConnection, id: Uuid, name: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into auth.tenants (id, name) values ($1, $2)",
        id,
        name
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a user and returns it with its tenant name.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    tenant_id: Uuid,
    email: &str,
    full_name: Option<&str>,
    password_hash: &str,
    roles: &[Role],
) -> sqlx::Result<UserRow> {
    user_rows!(
        with "u as (
               insert into auth.users (id, tenant_id, email, full_name, password_hash, roles)
               values ($1, $2, $3, $4, $5, $6)
               returning id, tenant_id, email, full_name, roles, is_active, created_at
           )"
        select "from u join auth.tenants t on t.id = u.tenant_id",
        id,
        tenant_id,
        email,
        full_name,
        password_hash,
        roles as &[Role]
    )
    .fetch_one(conn)
    .await
}

pub async fn find_for_login(pool: &PgPool, email: &str) -> sqlx::Result<Option<LoginRow>> {
    temponest_db::timed(
        "users.find_for_login",
        sqlx::query_as!(
            LoginRow,
            r#"select u.id, u.tenant_id, u.email, u.password_hash, u.roles as "roles: Vec<Role>", u.is_active,
                      t.is_active as tenant_active
               from auth.users u join auth.tenants t on t.id = u.tenant_id
               where u.email = $1"#,
            email
        )
        .fetch_optional(pool),
    )
    .await
}

/// One user of a tenant.
pub async fn find(pool: &PgPool, tenant_id: Uuid, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    temponest_db::timed(
        "users.find",
        user_rows!(
            select "from auth.users u join auth.tenants t on t.id = u.tenant_id
                    where u.tenant_id = $1 and u.id = $2",
            tenant_id,
            id
        )
        .fetch_optional(pool),
    )
    .await
}

/// A page of a tenant's users, newest first, and the total.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<UserRow>, i64)> {
    let rows = user_rows!(
        select "from auth.users u join auth.tenants t on t.id = u.tenant_id
                where u.tenant_id = $1
                order by u.created_at desc, u.id desc
                offset $2 limit $3",
        tenant_id,
        skip,
        limit
    )
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from auth.users where tenant_id = $1"#,
        tenant_id
    )
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// Applies the fields that are `Some`; returns the updated user, or None if it is not in
/// the tenant.
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    roles: Option<&[Role]>,
    is_active: Option<bool>,
    full_name: Option<&str>,
) -> sqlx::Result<Option<UserRow>> {
    user_rows!(
        with "u as (
               update auth.users set
                   roles = coalesce($3, roles),
                   is_active = coalesce($4, is_active),
                   full_name = coalesce($5, full_name),
                   updated_at = now()
               where tenant_id = $1 and id = $2
               returning id, tenant_id, email, full_name, roles, is_active, created_at
           )"
        select "from u join auth.tenants t on t.id = u.tenant_id",
        tenant_id,
        id,
        roles as Option<&[Role]>,
        is_active,
        full_name
    )
    .fetch_optional(conn)
    .await
}

/// Locks the tenant's admin rows (in id order, so concurrent callers cannot deadlock) for the
/// rest of the transaction and returns `(id, is_active)` for each. Role changes take this lock
/// first, so two concurrent demotions cannot both see "another admin remains".
pub async fn lock_admins(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> sqlx::Result<Vec<(Uuid, bool)>> {
    let rows = sqlx::query!(
        r#"select id, is_active from auth.users
           where tenant_id = $1 and 'admin' = any(roles)
           order by id
           for update"#,
        tenant_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.is_active)).collect())
}

/// One user of a tenant, locked for an update in the same transaction.
pub async fn find_for_update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<UserRow>> {
    user_rows!(
        select "from auth.users u join auth.tenants t on t.id = u.tenant_id
                where u.tenant_id = $1 and u.id = $2
                for update of u",
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_password_hash(pool: &PgPool, id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.users set password_hash = $2, updated_at = now() where id = $1",
        id,
        hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A tenant with its user count.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub user_count: i64,
}

pub async fn tenant(pool: &PgPool, tenant_id: Uuid) -> sqlx::Result<Option<TenantRow>> {
    sqlx::query_as!(
        TenantRow,
        r#"select t.id, t.name, t.is_active, t.created_at,
                  (select count(*) from auth.users u where u.tenant_id = t.id) as "user_count!"
           from auth.tenants t where t.id = $1"#,
        tenant_id
    )
    .fetch_optional(pool)
    .await
}
