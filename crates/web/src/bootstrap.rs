//! Start-up shared by every service: Postgres (created if missing, waited for, migrated),
//! Redis (optional), the rate limiter and the health checks, built from configuration.

use std::sync::Arc;
use std::time::Duration;

use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter, RoutePolicy};

use crate::health::{Check, Health};

/// Shared infrastructure handles built from configuration.
pub struct Infrastructure {
    pub pool: sqlx::PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub health: Health,
}

/// A start-up failure that retrying will not fix (bad configuration, failed migration).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BootstrapError(pub String);

/// What [`infrastructure`] connects.
pub struct InfraSettings<'a> {
    /// Pool name (sizes per service, label on the pool metrics).
    pub pool_name: &'a str,
    /// The services this process serves (reported by `/health`).
    pub services: &'a [&'a str],
    pub database_url: &'a str,
    /// `None` runs on in-process caches and rate limits only.
    pub redis_url: Option<String>,
    pub key_prefix: &'a str,
    /// Route policies on top of the global rate-limit defaults.
    pub routes: Vec<RoutePolicy>,
}

/// Connects Postgres (creating the database if needed and waiting for it to come up), applies
/// migrations, connects Redis and builds the limiter and health checks.
pub async fn infrastructure(settings: InfraSettings<'_>) -> Result<Infrastructure, BootstrapError> {
    let db = temponest_db::DbConfig::for_service(settings.pool_name, settings.database_url)
        .with_env_overrides()
        .map_err(|e| BootstrapError(e.to_string()))?;
    let mut delay = Duration::from_millis(200);
    loop {
        match temponest_db::ensure_database(&db).await {
            Ok(()) => break,
            Err(temponest_db::DbError::InvalidUrl(e)) => {
                return Err(BootstrapError(format!("DATABASE_URL: {e}")));
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "waiting for Postgres");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    let pool = temponest_db::connect_lazy(&db).map_err(|e| BootstrapError(e.to_string()))?;
    temponest_db::migrate(&pool)
        .await
        .map_err(|e| BootstrapError(e.to_string()))?;
    temponest_db::spawn_pool_gauges(pool.clone(), db.pool_name.clone());
    if settings.redis_url.is_none() {
        tracing::warn!("no REDIS_URL: running on in-process caches and rate limits only");
    }
    let cache = Cache::connect(CacheConfig {
        redis_url: settings.redis_url,
        key_prefix: settings.key_prefix.to_owned(),
        ..CacheConfig::default()
    })
    .await;
    let mut limits = RateLimitConfig::from_env().map_err(|e| BootstrapError(e.to_string()))?;
    limits.key_prefix = settings.key_prefix.to_owned();
    limits.routes.extend(settings.routes);
    let limiter = RateLimiter::new(limits, cache.redis_pool());
    let redis_probe = cache.clone();
    let health = Health::new(
        settings.services,
        pool.clone(),
        vec![Check {
            name: "redis",
            critical: false,
            probe: Arc::new(move || {
                let cache = redis_probe.clone();
                Box::pin(async move { cache.redis_healthy() })
            }),
        }],
    );
    health.mark_migrated();
    Ok(Infrastructure {
        pool,
        cache,
        limiter,
        health,
    })
}
