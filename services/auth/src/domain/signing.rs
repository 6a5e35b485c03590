//! Ed25519 signing keys: creation, rotation, the published JWKS and access-token issuance.
//!
//! Exactly one key signs at a time (a partial unique index enforces it across replicas).
//! A retired key stays in the JWKS until every token it signed has expired, so rotation never
//! invalidates a live token. Replicas reload keys from the database every minute and when a
//! token names a key they have not seen. Private keys are stored sealed under the operator key
//! when one is configured ([`crate::domain::at_rest`]).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use temponest_auth_client::jwks::{Jwk, Jwks, JwksError, JwksSource};
use temponest_auth_client::{AccessClaims, JwtVerifier};

use temponest_sealing::Sealer;

use crate::db::signing_keys::{self, NewSigningKey};

/// PKCS#8 v1 prefix for an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

struct Active {
    kid: String,
    key: EncodingKey,
}

/// The signing side of the auth service. Cheap to clone.
#[derive(Clone)]
pub struct SigningKeys {
    pool: PgPool,
    active: Arc<RwLock<Option<Active>>>,
    jwks: Arc<RwLock<Jwks>>,
    verifier: JwtVerifier,
    /// Retired keys stay published this long (the access-token TTL plus leeway).
    publish_retired_for: Duration,
    sealer: Arc<Sealer>,
}

/// A fresh Ed25519 key: (kid, seed, public key).
pub fn generate() -> (String, Vec<u8>, Vec<u8>) {
    let seed = crate::domain::credentials::random_secret();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
    (kid, seed.to_vec(), public.to_vec())
}

impl SigningKeys {
    /// Ensures a signing key exists, loads the key set and starts the background reload.
    pub async fn load(
        pool: PgPool,
        access_ttl: Duration,
        sealer: Arc<Sealer>,
    ) -> Result<Self, SigningError> {
        let publish_retired_for = access_ttl + Duration::from_secs(60);
        let (kid, seed, public) = generate();
        let (stored, sealed) = seal(&sealer, &kid, &seed)?;
        signing_keys::insert_if_none_active(
            &pool,
            NewSigningKey {
                kid: &kid,
                private_key: &stored,
                sealed,
                public_key: &public,
            },
        )
        .await?;
        let active = Arc::new(RwLock::new(None));
        let jwks = Arc::new(RwLock::new(Jwks::default()));
        let source: JwksSource = {
            let (pool, active, jwks, sealer) = (
                pool.clone(),
                Arc::clone(&active),
                Arc::clone(&jwks),
                Arc::clone(&sealer),
            );
            Arc::new(move || {
                let (pool, active, jwks, sealer) = (
                    pool.clone(),
                    Arc::clone(&active),
                    Arc::clone(&jwks),
                    Arc::clone(&sealer),
                );
                Box::pin(async move {
                    reload(&pool, &sealer, &active, &jwks, publish_retired_for)
                        .await
                        .map_err(|e| JwksError::Source(Box::new(e)))
                })
            })
        };
        let verifier = JwtVerifier::with_source(source, Duration::from_secs(60));
        let keys = Self {
            pool,
            active,
            jwks,
            verifier,
            publish_retired_for,
            sealer,
        };
        keys.reload_verifier().await?;
        Ok(keys)
    }

    /// The verifier other parts of this process use (it shares this key set).
    pub fn verifier(&self) -> JwtVerifier {
        self.verifier.clone()
    }

    /// The published key set.
    pub fn jwks(&self) -> Jwks {
        self.jwks.read().expect("jwks lock poisoned").clone()
    }

    /// Retires the signing key and starts signing with a new one.
    pub async fn rotate(&self) -> Result<String, SigningError> {
        let (kid, _) = self.store_new_key(Duration::ZERO).await?;
        self.reload_verifier().await?;
        Ok(kid)
    }

    /// Rotates when the signing key is older than `max_age`; returns the new key id if it did.
    pub async fn rotate_if_older_than(
        &self,
        max_age: Duration,
    ) -> Result<Option<String>, SigningError> {
        let (kid, rotated) = self.store_new_key(max_age).await?;
        if !rotated {
            return Ok(None);
        }
        self.reload_verifier().await?;
        Ok(Some(kid))
    }

    /// Generates and seals a new key and makes it the active one when the active key is older
    /// than `max_age`: its id, and whether it was stored.
    async fn store_new_key(&self, max_age: Duration) -> Result<(String, bool), SigningError> {
        let (kid, seed, public) = generate();
        let (stored, sealed) = seal(&self.sealer, &kid, &seed)?;
        let key = NewSigningKey {
            kid: &kid,
            private_key: &stored,
            sealed,
            public_key: &public,
        };
        let rotated = signing_keys::rotate(&self.pool, max_age, key).await?;
        Ok((kid, rotated))
    }

    async fn reload_verifier(&self) -> Result<(), SigningError> {
        self.verifier
            .reload()
            .await
            .map_err(|e| SigningError::Reload(e.to_string()))
    }

    /// Checks every hour whether the signing key has reached `max_age` and rotates it.
    pub fn spawn_rotation(&self, max_age: Duration) -> tokio::task::JoinHandle<()> {
        let keys = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match keys.rotate_if_older_than(max_age).await {
                    Ok(Some(kid)) => tracing::info!(kid, "rotated the token signing key"),
                    Ok(None) => {}
                    Err(err) => tracing::warn!(error = %err, "signing key rotation check failed"),
                }
            }
        })
    }

    /// Signs access-token claims with the active key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, SigningError> {
        let guard = self.active.read().expect("key lock poisoned");
        let active = guard.as_ref().ok_or(SigningError::NoActiveKey)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(active.kid.clone());
        jsonwebtoken::encode(&header, claims, &active.key)
            .map_err(|e| SigningError::Encode(e.to_string()))
    }

    pub fn publish_retired_for(&self) -> Duration {
        self.publish_retired_for
    }
}

/// A new private key in its stored form.
fn seal(sealer: &Sealer, kid: &str, seed: &[u8]) -> Result<(Vec<u8>, bool), SigningError> {
    sealer
        .store(kid.as_bytes(), seed)
        .map_err(|e| SigningError::Seal(e.to_string()))
}

/// Why a key could not be stored, loaded or used. The routes answer `NoActiveKey` and
/// `Reload` 503 (a reload may succeed soon), a database error as every database error, and
/// the others 500.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The key set could not be reloaded into the verifier.
    #[error("{0}")]
    Reload(String),
    /// No active key is loaded yet.
    #[error("no signing key loaded")]
    NoActiveKey,
    #[error("could not seal a signing key: {0}")]
    Seal(String),
    #[error("signing failed: {0}")]
    Encode(String),
}

/// Why the key set could not be loaded from the database.
#[derive(Debug, thiserror::Error)]
enum KeyLoadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "signing key {kid} cannot be opened: check {}",
        crate::domain::at_rest::SETTINGS
    )]
    Sealed { kid: String },
}

async fn reload(
    pool: &PgPool,
    sealer: &Sealer,
    active: &RwLock<Option<Active>>,
    jwks: &RwLock<Jwks>,
    publish_retired_for: Duration,
) -> Result<Jwks, KeyLoadError> {
    let rows = signing_keys::published(pool, publish_retired_for).await?;
    let mut set = Jwks::default();
    for row in &rows {
        set.keys.push(Jwk::ed25519(
            &row.kid,
            URL_SAFE_NO_PAD.encode(&row.public_key),
        ));
        if row.retired_at.is_none() {
            let seed = sealer
                .reveal(row.kid.as_bytes(), &row.private_key, row.sealed)
                .ok_or_else(|| KeyLoadError::Sealed {
                    kid: row.kid.clone(),
                })?;
            let mut der = PKCS8_ED25519_PREFIX.to_vec();
            der.extend_from_slice(&seed);
            *active.write().expect("key lock poisoned") = Some(Active {
                kid: row.kid.clone(),
                key: EncodingKey::from_ed_der(&der),
            });
        }
    }
    *jwks.write().expect("jwks lock poisoned") = set.clone();
    Ok(set)
}
