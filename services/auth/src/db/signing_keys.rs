//! `auth.signing_keys`. Private keys are stored as [`temponest_sealing::Sealer::store`] made
//! them (`sealed` says which form); the public key is public.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub sealed: bool,
    pub public_key: Vec<u8>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// A key to insert: its private key already in its stored form.
#[derive(Debug, Clone, Copy)]
pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    pub private_key: &'a [u8],
    pub sealed: bool,
    pub public_key: &'a [u8],
}

/// Creates the first signing key unless one is active (race-free across replicas thanks to
/// the `signing_keys_one_active` partial unique index).
pub async fn insert_if_none_active(pool: &PgPool, key: NewSigningKey<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into auth.signing_keys (kid, private_key, sealed, public_key)
         values ($1, $2, $3, $4)
         on conflict do nothing",
        key.kid,
        key.private_key,
        key.sealed,
        key.public_key
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Retires the active key and inserts a new one, atomically, when the active key is older
/// than `older_than` (pass zero to rotate unconditionally). Replicas racing to rotate
/// serialise on an advisory lock, so one rotation happens, not one per replica. Returns
/// whether it rotated.
pub async fn rotate(
    pool: &PgPool,
    older_than: std::time::Duration,
    key: NewSigningKey<'_>,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('auth.signing_keys.rotate'))")
        .execute(&mut *tx)
        .await?;
    let due = sqlx::query_scalar!(
        r#"select coalesce(bool_and(created_at <= now() - make_interval(secs => $1)), true) as "due!"
           from auth.signing_keys where retired_at is null"#,
        older_than.as_secs_f64()
    )
    .fetch_one(&mut *tx)
    .await?;
    if !due {
        return Ok(false);
    }
    sqlx::query!("update auth.signing_keys set retired_at = now() where retired_at is null")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into auth.signing_keys (kid, private_key, sealed, public_key)
         values ($1, $2, $3, $4)",
        key.kid,
        key.private_key,
        key.sealed,
        key.public_key
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The active key and every retired key still inside its publication window.
pub async fn published(
    pool: &PgPool,
    retired_window: std::time::Duration,
) -> sqlx::Result<Vec<SigningKeyRow>> {
    let window_secs = retired_window.as_secs_f64();
    sqlx::query_as!(
        SigningKeyRow,
        r#"select kid, private_key, sealed, public_key, retired_at from auth.signing_keys
           where retired_at is null or retired_at > now() - make_interval(secs => $1)
           order by created_at desc"#,
        window_secs
    )
    .fetch_all(pool)
    .await
}

/// Every key, locked for re-sealing.
pub async fn lock_all(conn: &mut PgConnection) -> sqlx::Result<Vec<SigningKeyRow>> {
    sqlx::query_as!(
        SigningKeyRow,
        "select kid, private_key, sealed, public_key, retired_at from auth.signing_keys
         order by kid for update"
    )
    .fetch_all(conn)
    .await
}

/// Replaces a key's stored private key (same key, sealed anew).
pub async fn restore(
    conn: &mut PgConnection,
    kid: &str,
    private_key: &[u8],
    sealed: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.signing_keys set private_key = $2, sealed = $3 where kid = $1",
        kid,
        private_key,
        sealed
    )
    .execute(conn)
    .await?;
    Ok(())
}
