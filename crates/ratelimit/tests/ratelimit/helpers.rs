//! Shared set-up: Redis pools, unique configurations, and deadline-bounded waiting.

use std::time::{Duration, Instant};

use deadpool_redis::{Pool, Runtime};
use temponest_ratelimit::{Decision, Policy, RateLimitConfig, RateLimiter};

/// The test Redis.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A pool on `url`.
pub fn pool_for(url: &str) -> Pool {
    deadpool_redis::Config::from_url(url)
        .create_pool(Some(Runtime::Tokio1))
        .expect("valid Redis URL")
}

/// A pool on the test Redis.
pub fn redis_pool() -> Pool {
    pool_for(&redis_url())
}

/// Default configuration with a key prefix no other test shares.
pub fn config() -> RateLimitConfig {
    RateLimitConfig {
        key_prefix: format!("test-{}", uuid::Uuid::new_v4()),
        ..RateLimitConfig::default()
    }
}

/// A limiter on the test Redis with its own key prefix.
pub fn redis_limiter() -> RateLimiter {
    RateLimiter::new(config(), Some(redis_pool()))
}

/// A policy of `quota` requests per `window_ms` milliseconds.
pub fn policy(name: &str, quota: u32, window_ms: u64) -> Policy {
    Policy::new(name, quota, Duration::from_millis(window_ms))
}

/// Checks until a request is allowed, waiting as long as the limiter says, within 5 s.
pub async fn check_until_allowed(
    limiter: &RateLimiter,
    key: &str,
    policies: &[Policy],
) -> Decision {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let decision = limiter.check(key, policies).await;
        if decision.allowed {
            return decision;
        }
        assert!(
            Instant::now() < deadline,
            "quota never came back: {decision:?}"
        );
        // Quota returns with the clock; poll again rather than assume how long that takes.
        tokio::task::yield_now().await;
    }
}

/// Redis keys under `prefix`, with their remaining time to live in ms.
pub async fn keys_with_ttl(prefix: &str) -> Vec<(String, i64)> {
    use deadpool_redis::redis::AsyncCommands;
    let mut connection = redis_pool().get().await.expect("Redis is running");
    let keys: Vec<String> = connection
        .keys(format!("{prefix}:*"))
        .await
        .expect("KEYS works");
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = connection.pttl(&key).await.expect("PTTL works");
        out.push((key, ttl));
    }
    out
}

/// Fires 50 concurrent checks against 10 per minute and 1000 per hour: exactly 10 pass, and
/// the denied ones consume nothing of the hourly quota.
pub async fn assert_a_burst_never_exceeds_the_quota(limiter: &RateLimiter) {
    let policies = [Policy::per_minute(10), Policy::per_hour(1000)];
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let limiter = limiter.clone();
            let policies = policies.clone();
            tokio::spawn(async move { limiter.check("burst", &policies).await.allowed })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.expect("check task"));
    }
    assert_eq!(allowed, 10);
    let hourly = limiter.check("burst", &policies[1..]).await;
    assert_eq!(
        hourly.policies[0].remaining, 989,
        "denied requests consumed nothing"
    );
}

/// Spends a quota of 2 per 200 ms, is told to retry within 100 ms, and is allowed again
/// once the window has moved on.
pub async fn assert_quota_comes_back(limiter: &RateLimiter) {
    let policies = [policy("fast", 2, 200)];
    assert!(limiter.check("k", &policies).await.allowed);
    assert!(limiter.check("k", &policies).await.allowed);
    let denied = limiter.check("k", &policies).await;
    assert!(!denied.allowed);
    assert!(denied.retry_after.expect("retry") <= Duration::from_millis(100));
    check_until_allowed(limiter, "k", &policies).await;
}
