//! The infrastructure every service shares in a process: the Postgres pool (database created
//! if missing, waited for, migrated), the two-tier cache (Redis optional), the rate limiter
//! and the health checks — built once, whatever services the process runs.

use std::sync::Arc;
use std::time::Duration;

use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter, RoutePolicy};
use temponest_web::health::{Check, Health};

use crate::StartupError;
use crate::config::PlatformConfig;

/// Shared infrastructure handles.
#[derive(Clone)]
pub struct Infrastructure {
    pub pool: sqlx::PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub health: Health,
}

impl Infrastructure {
    /// Connects Postgres (creating the database if needed and waiting for it to come up),
    /// applies migrations, connects Redis and builds the limiter (the global defaults of
    /// `config.rate_limit`, plus `routes`) and the health checks. `pool_name` sizes the pool and
    /// labels its metrics; `services` is what `/health` reports.
    pub async fn connect(
        config: &PlatformConfig,
        pool_name: &str,
        services: &[&str],
        routes: Vec<RoutePolicy>,
    ) -> Result<Self, StartupError> {
        let db = temponest_db::DbConfig::for_service(pool_name, config.database_url.expose())
            .with_settings(&config.database)
            .map_err(StartupError::config)?;
        let mut delay = Duration::from_millis(200);
        loop {
            match temponest_db::ensure_database(&db).await {
                Ok(()) => break,
                Err(temponest_db::DbError::InvalidUrl(e)) => {
                    return Err(StartupError::config(format!("DATABASE_URL: {e}")));
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "waiting for Postgres");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        let pool = temponest_db::connect_lazy(&db).map_err(StartupError::Database)?;
        temponest_db::migrate(&pool)
            .await
            .map_err(StartupError::Database)?;
        temponest_db::spawn_pool_gauges(pool.clone(), db.pool_name.clone());
        let redis_url = config.redis();
        if redis_url.is_none() {
            tracing::warn!("no REDIS_URL: running on in-process caches and rate limits only");
        }
        let cache = Cache::connect(CacheConfig {
            redis_url,
            key_prefix: config.redis_key_prefix.clone(),
            ..CacheConfig::default()
        })
        .await;
        let mut limits = config.rate_limit.config();
        limits.routes.extend(routes);
        Ok(Self::assemble(pool, cache, limits, services))
    }

    /// The handles around an already migrated pool and a connected cache (what
    /// [`Infrastructure::connect`] ends with; test harnesses start here). The limiter's keys
    /// get the cache's prefix.
    pub fn assemble(
        pool: sqlx::PgPool,
        cache: Cache,
        mut limits: RateLimitConfig,
        services: &[&str],
    ) -> Self {
        limits.key_prefix = cache.key_prefix().to_owned();
        let limiter = RateLimiter::new(limits, cache.redis_pool());
        let redis_probe = cache.clone();
        let health = Health::new(
            services,
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
        Self {
            pool,
            cache,
            limiter,
            health,
        }
    }
}
