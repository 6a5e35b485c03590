//! `RateLimiter::check` against Redis: quotas, all-or-nothing, sharing, recovery, expiry.

use std::time::Duration;

use temponest_ratelimit::{Policy, RateLimitConfig, RateLimiter};

use crate::helpers::{
    assert_a_burst_never_exceeds_the_quota, assert_quota_comes_back, config, keys_with_ttl,
    redis_limiter, redis_pool,
};

#[tokio::test]
async fn a_fresh_client_gets_exactly_its_quota_then_is_told_to_retry_later() {
    let limiter = redis_limiter();
    let policies = [Policy::per_minute(5)];
    for expected_remaining in (0..5).rev() {
        let decision = limiter.check("client", &policies).await;
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.policies[0].remaining, expected_remaining);
        assert!(decision.retry_after.is_none());
    }
    let denied = limiter.check("client", &policies).await;
    assert!(!denied.allowed);
    assert_eq!(denied.policies[0].remaining, 0);
    let retry_after = denied.retry_after.expect("a denial says when to retry");
    assert!(retry_after >= Duration::from_secs(1), "{retry_after:?}");
    assert!(
        retry_after <= Duration::from_secs(12),
        "one slot frees every 12 s: {retry_after:?}"
    );
    assert!(limiter.is_distributed());
}

#[tokio::test]
async fn a_request_denied_by_one_policy_consumes_nothing_from_the_others() {
    let limiter = redis_limiter();
    let short = Policy::new("short", 2, Duration::from_secs(60));
    let long = Policy::new("long", 10, Duration::from_secs(3600));
    let both = [short.clone(), long.clone()];

    assert!(limiter.check("k", &both).await.allowed);
    assert!(limiter.check("k", &both).await.allowed);
    let denied = limiter.check("k", &both).await;
    assert!(!denied.allowed);
    assert_eq!(denied.policies[0].remaining, 0, "short is violated");
    assert_eq!(
        denied.policies[1].remaining, 8,
        "long reports it still has 8"
    );
    let violated: Vec<_> = denied
        .violated_policies()
        .map(|s| &*s.policy.name)
        .collect();
    assert_eq!(violated, ["short"]);

    for _ in 0..3 {
        assert!(!limiter.check("k", &both).await.allowed);
    }
    let long_only = limiter.check("k", &[long]).await;
    assert!(long_only.allowed);
    assert_eq!(
        long_only.policies[0].remaining, 7,
        "only the two allowed requests counted"
    );
}

#[tokio::test]
async fn two_limiters_on_one_redis_share_the_budget() {
    let config = config();
    let first = RateLimiter::new(config.clone(), Some(redis_pool()));
    let second = RateLimiter::new(config, Some(redis_pool()));
    let policies = [Policy::per_minute(3)];

    assert!(first.check("shared", &policies).await.allowed);
    assert!(second.check("shared", &policies).await.allowed);
    assert_eq!(
        first.check("shared", &policies).await.policies[0].remaining,
        0
    );
    assert!(!second.check("shared", &policies).await.allowed);
    assert!(!first.check("shared", &policies).await.allowed);
}

#[tokio::test]
async fn quota_comes_back_as_time_passes() {
    assert_quota_comes_back(&redis_limiter()).await;
}

#[tokio::test]
async fn different_keys_have_separate_budgets() {
    let limiter = redis_limiter();
    let policies = [Policy::per_minute(1)];
    assert!(limiter.check("alice", &policies).await.allowed);
    assert!(!limiter.check("alice", &policies).await.allowed);
    assert!(limiter.check("bob", &policies).await.allowed);
}

#[tokio::test]
async fn redis_keys_expire_within_one_window() {
    let config = config();
    let prefix = config.key_prefix.clone();
    let limiter = RateLimiter::new(config, Some(redis_pool()));
    let policies = [Policy::per_minute(60), Policy::per_hour(1000)];
    assert!(limiter.check("k", &policies).await.allowed);

    let keys = keys_with_ttl(&prefix).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for (key, ttl) in keys {
        let window_ms = if key.contains(":minute:") {
            60_000
        } else {
            3_600_000
        };
        assert!(ttl > 0 && ttl <= window_ms, "{key} has TTL {ttl}");
    }
}

#[tokio::test]
async fn a_disabled_limiter_always_allows() {
    let limiter = RateLimiter::new(
        RateLimitConfig {
            enabled: false,
            ..config()
        },
        Some(redis_pool()),
    );
    let policies = [Policy::per_minute(1)];
    for _ in 0..10 {
        let decision = limiter.check("k", &policies).await;
        assert!(decision.allowed);
        assert_eq!(decision.policies[0].remaining, 1);
    }
}

#[tokio::test]
async fn a_zero_quota_denies_every_request() {
    let limiter = redis_limiter();
    let decision = limiter.check("k", &[Policy::per_minute(0)]).await;
    assert!(!decision.allowed);
    assert!(decision.retry_after.expect("retry") >= Duration::from_secs(1));
}

#[tokio::test]
async fn no_policies_means_no_limit() {
    let limiter = redis_limiter();
    let decision = limiter.check("k", &[]).await;
    assert!(decision.allowed);
    assert!(decision.policies.is_empty());
}

#[tokio::test]
async fn concurrent_requests_never_exceed_the_quota() {
    assert_a_burst_never_exceeds_the_quota(&redis_limiter()).await;
}

/// Concurrent checks of one client are answered in batches (one script call for the checks
/// that arrive while a call is in flight); each decision must still be the one sequential
/// checks would have given: every remaining count from 9 down to 0 exactly once, and each
/// refusal naming the violated policy with a retry-after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_is_answered_as_if_checked_one_after_the_other() {
    let limiter = redis_limiter();
    let policies = [Policy::per_minute(10), Policy::per_hour(1000)];
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (limiter, policies) = (limiter.clone(), policies.clone());
            tokio::spawn(async move { limiter.check("batch", &policies).await })
        })
        .collect();
    let mut remaining = Vec::new();
    let mut hourly = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let decision = task.await.expect("check task");
        if decision.allowed {
            remaining.push(decision.policies[0].remaining);
            hourly.push(decision.policies[1].remaining);
            assert_eq!(decision.retry_after, None);
        } else {
            refused += 1;
            assert_eq!(decision.policies[0].remaining, 0, "{decision:?}");
            assert_eq!(decision.policies[1].remaining, 990, "{decision:?}");
            let retry_after = decision.retry_after.expect("a refusal says when to retry");
            assert!(
                retry_after > Duration::ZERO && retry_after <= Duration::from_secs(6),
                "{retry_after:?}"
            );
        }
    }
    remaining.sort_unstable();
    hourly.sort_unstable();
    assert_eq!(remaining, (0..10).collect::<Vec<u32>>());
    assert_eq!(hourly, (990..1000).collect::<Vec<u32>>());
    assert_eq!(refused, 30);
}

/// One client's checks against two sets of policies at once (a route override beside the
/// defaults) wait in separate groups: each set is counted on its own keys, and neither
/// answers the other's checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_under_two_policy_sets_is_counted_per_set() {
    let limiter = redis_limiter();
    let defaults = [Policy::per_minute(10)];
    let route = [Policy::new("route", 3, Duration::from_secs(60))];
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let limiter = limiter.clone();
            let policies = if i % 2 == 0 {
                defaults.to_vec()
            } else {
                route.to_vec()
            };
            tokio::spawn(async move { (i % 2, limiter.check("two-sets", &policies).await) })
        })
        .collect();
    let mut remaining = [Vec::new(), Vec::new()];
    for task in tasks {
        let (set, decision) = task.await.expect("check task");
        assert_eq!(
            &*decision.policies[0].policy.name,
            ["minute", "route"][set],
            "{decision:?}"
        );
        if decision.allowed {
            remaining[set].push(decision.policies[0].remaining);
        }
    }
    for list in &mut remaining {
        list.sort_unstable();
    }
    assert_eq!(remaining[0], (0..10).collect::<Vec<u32>>());
    assert_eq!(remaining[1], vec![0, 1, 2]);
}
