//! `auth.secrets`: server-side secrets generated once and shared by every replica.

use sqlx::PgPool;

/// Returns the named secret, creating it from `fresh` if it does not exist yet.
pub async fn get_or_create(pool: &PgPool, name: &str, fresh: &[u8]) -> sqlx::Result<Vec<u8>> {
    sqlx::query!(
        "insert into auth.secrets (name, value) values ($1, $2) on conflict (name) do nothing",
        name,
        fresh
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!("select value from auth.secrets where name = $1", name)
        .fetch_one(pool)
        .await
}
