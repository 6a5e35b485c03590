//! [`RateLimiter`]: routes each check to Redis, or to the in-process fallback while Redis is
//! unavailable, and decides when to try Redis again.
//!
//! A Redis failure (no connection, error, or no answer within [`REDIS_TIMEOUT`]) sends checks to
//! the local limiter for [`REDIS_BACKOFF`]; after that a single request probes Redis again while
//! the others stay local, so an outage costs one connect attempt per second, not one per request.
//! A Redis outage therefore degrades limits to per-process ones; it never fails a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::RateLimitConfig;
use crate::local::LocalLimiter;
use crate::policy::{Decision, Policy};
use crate::redis::{RedisBackend, RedisCheckError};

/// Upper bound on one Redis check, pool checkout included.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// How long checks stay in process after a Redis failure before Redis is probed again.
pub const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// Minimum time between two "Redis still unavailable" warnings.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The rate limiter shared by a service's middleware and handlers (cheap to clone).
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.inner.config)
            .field("has_redis", &self.inner.redis.is_some())
            .field("distributed", &self.is_distributed())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: RateLimitConfig,
    redis: Option<RedisBackend>,
    local: LocalLimiter,
    health: RedisHealth,
}

impl RateLimiter {
    /// A limiter using `redis` when given (and reachable), in-process limits otherwise.
    pub fn new(config: RateLimitConfig, redis: Option<deadpool_redis::Pool>) -> Self {
        if redis.is_none() && config.enabled {
            tracing::info!("no Redis pool for rate limiting: limits are kept per process");
        }
        let redis =
            redis.map(|pool| RedisBackend::new(pool, config.key_prefix.clone(), REDIS_TIMEOUT));
        let local = LocalLimiter::new(config.local_max_keys);
        Self {
            inner: Arc::new(Inner {
                config,
                redis,
                local,
                health: RedisHealth::new(),
            }),
        }
    }

    /// Checks every policy for `key` atomically (all-or-nothing: a request consumes quota only
    /// if every policy allows it). Always allows when limiting is disabled or `policies` is empty.
    pub async fn check(&self, key: &str, policies: &[Policy]) -> Decision {
        let inner = &*self.inner;
        if !inner.config.enabled || policies.is_empty() {
            return Decision::unlimited(policies);
        }
        if let Some(denied) = Decision::deny_if_zero_quota(policies) {
            return denied;
        }
        if let Some(redis) = &inner.redis
            && inner.health.should_try()
        {
            match redis.check(key, policies).await {
                Ok(decision) => {
                    inner.health.record_success();
                    return decision;
                }
                Err(error) => inner.health.record_failure(&error),
            }
        }
        inner.local.check(key, policies)
    }

    /// The configuration this limiter was built with.
    pub fn config(&self) -> &RateLimitConfig {
        &self.inner.config
    }

    /// Whether requests to `path` are counted at all: limiting is on and the path is under no
    /// exempt prefix.
    pub fn limits_path(&self, path: &str) -> bool {
        self.inner.config.enabled && !self.inner.config.is_exempt(path)
    }

    /// Whether checks currently go to Redis (false without a pool or during a Redis outage).
    pub fn is_distributed(&self) -> bool {
        self.inner.redis.is_some() && !self.inner.health.degraded.load(Ordering::Relaxed)
    }

    /// Keys held by the in-process fallback across all policies.
    pub fn local_key_count(&self) -> usize {
        self.inner.local.key_count()
    }

    /// Prunes the in-process fallback now (it also prunes itself periodically).
    pub fn prune_local(&self) {
        self.inner.local.prune();
    }
}

/// Circuit-breaker state of the Redis backend.
struct RedisHealth {
    epoch: Instant,
    /// 0 while healthy; otherwise the time (ms since `epoch`) before which Redis is skipped.
    skip_until_ms: AtomicU64,
    degraded: AtomicBool,
    last_warning_ms: AtomicU64,
}

impl RedisHealth {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
            last_warning_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Healthy: always. Backing off: no, except for the one caller that claims the probe once
    /// the back-off has elapsed.
    fn should_try(&self) -> bool {
        let until = self.skip_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        now >= until
            && self
                .skip_until_ms
                .compare_exchange(
                    until,
                    now + backoff_ms(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn record_success(&self) {
        if self.skip_until_ms.load(Ordering::Acquire) != 0 {
            self.skip_until_ms.store(0, Ordering::Release);
        }
        if self.degraded.swap(false, Ordering::AcqRel) {
            tracing::info!("Redis is back: rate limits are distributed again");
        }
    }

    fn record_failure(&self, error: &RedisCheckError) {
        let now = self.now_ms();
        self.skip_until_ms
            .store((now + backoff_ms()).max(1), Ordering::Release);
        metrics::counter!("rate_limit_backend_errors_total").increment(1);
        let newly_degraded = !self.degraded.swap(true, Ordering::AcqRel);
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        let warn_every = u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        let warning_due = newly_degraded || now.saturating_sub(last) >= warn_every;
        if warning_due
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                %error,
                "Redis unavailable for rate limiting: using in-process limits, retrying every {REDIS_BACKOFF:?}"
            );
        }
    }
}

fn backoff_ms() -> u64 {
    u64::try_from(REDIS_BACKOFF.as_millis()).unwrap_or(u64::MAX)
}
