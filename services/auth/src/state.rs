//! Shared state of the auth service and how it is built from configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_platform::{ConfigError, Context};
use temponest_ratelimit::RateLimiter;
use temponest_sealing::Sealer;
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::domain::at_rest;
use crate::domain::password::PasswordHasher;
use crate::domain::service_clients::ServiceClients;
use crate::domain::signing::SigningKeys;
use crate::resolver::LocalResolver;

/// Everything handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub config: Arc<AuthConfig>,
    pub keys: SigningKeys,
    pub hasher: PasswordHasher,
    pub auth: AuthClient,
    /// Key from which refresh tokens are derived.
    pub refresh_secret: Arc<Vec<u8>>,
    pub last_used: LastUsed,
    /// Service clients that may obtain service tokens (secret digests only).
    pub service_clients: Arc<ServiceClients>,
}

temponest_platform::shared_handles!(AppState);

/// Why the auth service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing keys: {0}")]
    Signing(#[from] crate::domain::signing::SigningError),
}

/// The password hasher configured by `config`, one hash at a time (operator commands).
pub fn password_hasher(config: &AuthConfig) -> Result<PasswordHasher, ConfigError> {
    PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        1,
        Duration::from_secs(30),
    )
    .map_err(ConfigError::invalid)
}

/// Retires the current token signing key and starts signing with a new one (operator
/// command); returns the new key's id.
pub async fn rotate_signing_key(pool: PgPool, config: &AuthConfig) -> Result<String, StartupError> {
    let sealer = Sealer::new(
        config.secret_key.expose(),
        config.previous_secret_key.expose(),
    )
    .map_err(|e| ConfigError::invalid(format!("{}: {e}", at_rest::SETTINGS)))?;
    let keys = SigningKeys::load(
        pool,
        Duration::from_secs(config.access_token_ttl_secs as u64),
        Arc::new(sealer),
    )
    .await?;
    Ok(keys.rotate().await?)
}

impl AppState {
    /// Builds the state on an already migrated database.
    pub async fn build(config: AuthConfig, context: &Context) -> Result<Self, StartupError> {
        let (pool, cache, limiter) = (
            context.pool.clone(),
            context.cache.clone(),
            context.limiter.clone(),
        );
        let service_clients =
            ServiceClients::parse(&config.service_clients).map_err(ConfigError::invalid)?;
        let hasher = PasswordHasher::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            config.max_concurrent_hashes,
            Duration::from_millis(config.hash_queue_timeout_ms),
        )
        .map_err(ConfigError::invalid)?;
        let sealer = Arc::new(
            Sealer::new(
                config.secret_key.expose(),
                config.previous_secret_key.expose(),
            )
            .map_err(|e| ConfigError::invalid(format!("{}: {e}", at_rest::SETTINGS)))?,
        );
        if !sealer.seals() {
            tracing::warn!(
                "token signing keys are stored unsealed: set TEMPONEST_SECRET_KEY (base64 of 32 \
                 random bytes) to seal them at rest"
            );
        }
        let resealed = at_rest::reseal(&pool, &sealer)
            .await
            .map_err(ConfigError::invalid)?;
        if resealed != at_rest::Resealed::default() {
            tracing::info!(
                signing_keys = resealed.signing_keys,
                secrets = resealed.secrets,
                "sealed stored keys under the current TEMPONEST_SECRET_KEY"
            );
        }
        let keys = SigningKeys::load(
            pool.clone(),
            Duration::from_secs(config.access_token_ttl_secs as u64),
            Arc::clone(&sealer),
        )
        .await?;
        if config.signing_key_rotation_days > 0 {
            keys.spawn_rotation(Duration::from_secs(
                u64::from(config.signing_key_rotation_days) * 86_400,
            ));
        }
        let refresh_secret = at_rest::server_secret(&pool, &sealer, "refresh_token_key")
            .await
            .map_err(ConfigError::invalid)?;
        let last_used = LastUsed::start(pool.clone());
        crate::domain::throttle_retention::spawn(pool.clone());
        let resolver = LocalResolver::new(pool.clone(), last_used.clone());
        let auth = AuthClient::new(keys.verifier(), Arc::new(resolver), cache.clone());
        Ok(Self {
            pool,
            cache,
            limiter,
            config: Arc::new(config),
            keys,
            hasher,
            auth,
            refresh_secret: Arc::new(refresh_secret),
            last_used,
            service_clients: Arc::new(service_clients),
        })
    }
}

/// Batches API-key `last_used_at` updates: resolutions record in memory, a background task
/// writes them every 30 s in one statement (no write per request).
#[derive(Clone, Default)]
pub struct LastUsed {
    pending: Arc<Mutex<HashMap<Uuid, DateTime<Utc>>>>,
}

impl LastUsed {
    fn start(pool: PgPool) -> Self {
        let tracker = Self::default();
        let weak = Arc::downgrade(&tracker.pending);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(pending) = weak.upgrade() else {
                    return;
                };
                let tracker = LastUsed { pending };
                if let Err(err) = tracker.flush(&pool).await {
                    tracing::warn!(error = %err, "could not record API key last-used times");
                }
            }
        });
        tracker
    }

    pub fn record(&self, key_id: Uuid) {
        self.pending
            .lock()
            .expect("last-used lock poisoned")
            .insert(key_id, Utc::now());
    }

    /// Writes pending times now.
    pub async fn flush(&self, pool: &PgPool) -> sqlx::Result<()> {
        let batch: Vec<(Uuid, DateTime<Utc>)> = self
            .pending
            .lock()
            .expect("last-used lock poisoned")
            .drain()
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        let (ids, at): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        crate::db::api_keys::record_last_used(pool, &ids, &at).await
    }
}
