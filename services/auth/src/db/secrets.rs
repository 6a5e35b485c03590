//! `auth.secrets`: server-side secrets generated once and shared by every replica, stored as
//! [`temponest_sealing::Sealer::store`] made them.

use sqlx::{PgConnection, PgPool};

/// A stored secret: its bytes and whether they are sealed.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub name: String,
    pub value: Vec<u8>,
    pub sealed: bool,
}

/// Returns the named secret, creating it from `fresh` (already sealed or not, as `sealed`
/// says) if it does not exist yet.
pub async fn get_or_create(
    pool: &PgPool,
    name: &str,
    fresh: &[u8],
    sealed: bool,
) -> sqlx::Result<StoredSecret> {
    sqlx::query!(
        "insert into auth.secrets (name, value, sealed) values ($1, $2, $3)
         on conflict (name) do nothing",
        name,
        fresh,
        sealed
    )
    .execute(pool)
    .await?;
    sqlx::query_as!(
        StoredSecret,
        "select name, value, sealed from auth.secrets where name = $1",
        name
    )
    .fetch_one(pool)
    .await
}

/// Every secret, locked for re-sealing.
pub async fn lock_all(conn: &mut PgConnection) -> sqlx::Result<Vec<StoredSecret>> {
    sqlx::query_as!(
        StoredSecret,
        "select name, value, sealed from auth.secrets order by name for update"
    )
    .fetch_all(conn)
    .await
}

/// Replaces a secret's stored form (same value, sealed anew).
pub async fn restore(
    conn: &mut PgConnection,
    name: &str,
    value: &[u8],
    sealed: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.secrets set value = $2, sealed = $3 where name = $1",
        name,
        value,
        sealed
    )
    .execute(conn)
    .await?;
    Ok(())
}
