//! The in-process fallback: no pool, an unreachable Redis, and Redis coming back.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use temponest_ratelimit::{Policy, RateLimiter};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::helpers::{
    assert_a_burst_never_exceeds_the_quota, assert_quota_comes_back, config, keys_with_ttl, policy,
    pool_for, redis_url,
};

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_in_process_limits_without_errors() {
    let limiter = RateLimiter::new(config(), Some(pool_for("redis://127.0.0.1:1")));
    let policies = [Policy::per_minute(3)];
    for expected_remaining in (0..3).rev() {
        let decision = limiter.check("client", &policies).await;
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.policies[0].remaining, expected_remaining);
    }
    let denied = limiter.check("client", &policies).await;
    assert!(!denied.allowed);
    assert!(denied.retry_after.expect("retry") >= Duration::from_secs(1));
    assert!(!limiter.is_distributed());
    assert!(limiter.check("someone-else", &policies).await.allowed);
}

#[tokio::test]
async fn in_process_limits_are_all_or_nothing_too() {
    let limiter = RateLimiter::new(config(), None);
    let short = Policy::new("short", 2, Duration::from_secs(60));
    let long = Policy::new("long", 10, Duration::from_secs(3600));
    let both = [short, long.clone()];

    assert!(limiter.check("k", &both).await.allowed);
    assert!(limiter.check("k", &both).await.allowed);
    for _ in 0..3 {
        let denied = limiter.check("k", &both).await;
        assert!(!denied.allowed);
        assert_eq!(denied.policies[1].remaining, 8);
        let violated: Vec<_> = denied
            .violated_policies()
            .map(|s| &*s.policy.name)
            .collect();
        assert_eq!(violated, ["short"]);
    }
    let long_only = limiter.check("k", &[long]).await;
    assert!(long_only.allowed);
    assert_eq!(long_only.policies[0].remaining, 7);
}

#[tokio::test]
async fn in_process_quota_comes_back_as_time_passes() {
    assert_quota_comes_back(&RateLimiter::new(config(), None)).await;
}

#[tokio::test]
async fn in_process_state_is_pruned_once_quotas_are_whole_again() {
    let limiter = RateLimiter::new(config(), None);
    let policies = [policy("fast", 2, 100)];
    for key in ["a", "b", "c"] {
        assert!(limiter.check(key, &policies).await.allowed);
    }
    assert_eq!(limiter.local_key_count(), 3);
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiter.local_key_count() > 0 {
        assert!(Instant::now() < deadline, "keys were never pruned");
        tokio::task::yield_now().await;
        limiter.prune_local();
    }
}

#[tokio::test]
async fn limits_return_to_redis_when_it_comes_back() {
    let proxy = RedisProxy::start(None).await;
    let address = proxy.address;
    let config = config();
    let prefix = config.key_prefix.clone();
    let limiter = RateLimiter::new(config, Some(pool_for(&format!("redis://{address}"))));
    let policies = [Policy::per_minute(2)];

    assert!(limiter.check("before", &policies).await.allowed);
    assert!(limiter.is_distributed());

    proxy.stop().await;
    assert!(limiter.check("during", &policies).await.allowed);
    assert!(limiter.check("during", &policies).await.allowed);
    assert!(
        !limiter.check("during", &policies).await.allowed,
        "still limited"
    );
    assert!(!limiter.is_distributed());

    let _proxy = RedisProxy::start(Some(address)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !limiter.is_distributed() {
        assert!(Instant::now() < deadline, "Redis was never used again");
        tokio::task::yield_now().await;
        limiter.check("after", &policies).await;
    }
    let keys = keys_with_ttl(&prefix).await;
    assert!(
        keys.iter().any(|(key, _)| key.contains("{before}")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|(key, _)| key.contains("{after}")),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|(key, _)| key.contains("{during}")),
        "{keys:?}"
    );
}

/// A TCP forwarder to the test Redis that can be stopped, to simulate an outage.
struct RedisProxy {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl RedisProxy {
    async fn start(address: Option<SocketAddr>) -> Self {
        let bind = address.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(bind).await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) cuts every forwarded connection.
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { address, task }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_in_process_requests_never_exceed_the_quota() {
    assert_a_burst_never_exceeds_the_quota(&RateLimiter::new(config(), None)).await;
}
