//! The auth service's secrets at rest: JWT signing keys (associated data: the key id) and
//! server secrets such as the refresh-token key (associated data: the secret's name), sealed
//! under the operator key `TEMPONEST_SECRET_KEY` ([`temponest_sealing`]).
//!
//! At start-up [`reseal`] opens every stored value and, in one transaction holding their row
//! locks (replicas starting together take turns), seals under the current key whatever is
//! stored unsealed or under `TEMPONEST_PREVIOUS_SECRET_KEY`. So introducing a key seals what
//! exists, and after a key rotation one start of any replica is enough before the previous key
//! may be dropped. A value that cannot be opened stops the start with an error naming the
//! setting: the service never signs with, or silently replaces, keys it cannot read.

use sqlx::PgPool;
use temponest_sealing::{SealError, Sealer};

use crate::db::{secrets, signing_keys};

/// The settings named in errors.
pub const SETTINGS: &str = "TEMPONEST_SECRET_KEY / TEMPONEST_PREVIOUS_SECRET_KEY";

/// Why the stored secrets could not be brought under the current key.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    #[error(
        "{what} is sealed under a key this process does not have: set {SETTINGS} to the key it was sealed with"
    )]
    CannotOpen { what: String },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// How many values were sealed anew.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub signing_keys: usize,
    pub secrets: usize,
}

/// Checks that every stored value opens and re-seals what is not under the current key.
pub async fn reseal(pool: &PgPool, sealer: &Sealer) -> Result<Resealed, AtRestError> {
    let mut tx = pool.begin().await?;
    let mut done = Resealed::default();
    for row in signing_keys::lock_all(&mut tx).await? {
        if let Some((stored, sealed)) = reseal_one(
            sealer,
            "signing key",
            &row.kid,
            &row.private_key,
            row.sealed,
        )? {
            signing_keys::restore(&mut tx, &row.kid, &stored, sealed).await?;
            done.signing_keys += 1;
        }
    }
    for row in secrets::lock_all(&mut tx).await? {
        if let Some((stored, sealed)) =
            reseal_one(sealer, "secret", &row.name, &row.value, row.sealed)?
        {
            secrets::restore(&mut tx, &row.name, &stored, sealed).await?;
            done.secrets += 1;
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// The `kind` value stored under `name` opened (else `CannotOpen`) and, when it is not under
/// the current key, sealed again: what to store instead.
fn reseal_one(
    sealer: &Sealer,
    kind: &str,
    name: &str,
    stored: &[u8],
    sealed: bool,
) -> Result<Option<(Vec<u8>, bool)>, AtRestError> {
    let opened = sealer
        .open(name.as_bytes(), stored, sealed)
        .ok_or_else(|| AtRestError::CannotOpen {
            what: format!("{kind} {name}"),
        })?;
    if sealer.seals() && !opened.by_current {
        return Ok(Some(sealer.store(name.as_bytes(), &opened.value)?));
    }
    Ok(None)
}

/// The named server secret, created from fresh random bytes on first use.
pub async fn server_secret(
    pool: &PgPool,
    sealer: &Sealer,
    name: &str,
) -> Result<Vec<u8>, AtRestError> {
    let fresh = crate::domain::credentials::random_secret();
    let (stored, sealed) = sealer.store(name.as_bytes(), &fresh)?;
    let row = secrets::get_or_create(pool, name, &stored, sealed).await?;
    sealer
        .reveal(name.as_bytes(), &row.value, row.sealed)
        .ok_or_else(|| AtRestError::CannotOpen {
            what: format!("secret {name}"),
        })
}
