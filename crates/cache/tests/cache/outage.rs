//! Behaviour while Redis is unreachable, and recovery when it comes back.

use std::time::Duration;

use temponest_cache::{Cache, CacheConfig, categories};

use crate::support::{
    FlakyProxy, Loads, cache_without_reachable_redis, config, silent_redis, wait_until,
};

/// Generous bound for "does not hang": several times the 200 ms Redis timeout.
const NO_HANG: Duration = Duration::from_secs(3);

#[tokio::test]
async fn with_redis_unreachable_get_or_load_uses_the_loader_then_l1() {
    let cache = cache_without_reachable_redis().await;
    let loads = Loads::default();

    for _ in 0..3 {
        let value = tokio::time::timeout(
            NO_HANG,
            cache.get_or_load(&categories::PERMISSIONS, "user-1", || {
                loads.load("admin".to_owned())
            }),
        )
        .await
        .expect("get_or_load does not hang");
        assert_eq!(value, Ok("admin".to_owned()));
    }
    assert_eq!(loads.count(), 1);
    assert!(!cache.redis_healthy());
    assert!(
        cache.redis_pool().is_some(),
        "the pool exists, only Redis is missing"
    );
}

#[tokio::test]
async fn with_redis_unreachable_writes_and_invalidations_neither_fail_nor_hang() {
    let cache = cache_without_reachable_redis().await;
    let loads = Loads::default();

    tokio::time::timeout(NO_HANG, async {
        cache.set(&categories::JWT, "t", &"claims".to_owned()).await;
        assert_eq!(
            cache.get::<String>(&categories::JWT, "t").await,
            Some("claims".to_owned())
        );
        cache.invalidate(&categories::JWT, "t").await;
        assert_eq!(cache.get::<String>(&categories::JWT, "t").await, None);

        let _ = cache
            .get_or_load_in(&categories::RAG, "tenant-1", "q", || loads.load(1))
            .await;
        cache
            .invalidate_namespace(&categories::RAG, "tenant-1")
            .await;
        let after = cache
            .get_or_load_in(&categories::RAG, "tenant-1", "q", || loads.load(2))
            .await;
        assert_eq!(after, Ok(2), "the namespace was dropped locally");
    })
    .await
    .expect("no call hangs on the unreachable Redis");
    assert!(!cache.redis_healthy());
}

#[tokio::test]
async fn a_redis_that_never_answers_is_bounded_by_the_timeout_instead_of_hanging_calls() {
    let cache = Cache::connect(CacheConfig {
        redis_url: Some(silent_redis().await.into()),
        redis_timeout: Duration::from_millis(100),
        ..config()
    })
    .await;
    let loads = Loads::default();

    tokio::time::timeout(NO_HANG, async {
        for _ in 0..3 {
            let value = cache
                .get_or_load_in(&categories::RAG, "tenant-1", "q", || loads.load(7))
                .await;
            assert_eq!(value, Ok(7));
        }
        cache.set(&categories::JWT, "t", &1).await;
        cache.invalidate(&categories::JWT, "t").await;
        cache
            .invalidate_namespace(&categories::RAG, "tenant-1")
            .await;
    })
    .await
    .expect("no call waits on a Redis that never answers");
    assert_eq!(loads.count(), 1, "L1 still serves while Redis is silent");
    assert!(!cache.redis_healthy());
}

#[tokio::test]
async fn an_invalid_redis_url_leaves_an_in_process_cache() {
    let cache = Cache::connect(CacheConfig {
        redis_url: Some("not a url".into()),
        ..config()
    })
    .await;
    let loads = Loads::default();
    for _ in 0..2 {
        let _ = cache
            .get_or_load(&categories::HEALTH, "k", || loads.load(1))
            .await;
    }
    assert_eq!(loads.count(), 1);
    assert!(cache.redis_pool().is_none());
}

#[tokio::test]
async fn after_an_outage_the_cache_clears_l1_and_resumes_using_redis_by_itself() {
    let proxy = FlakyProxy::start().await;
    let shared = config();
    let a = Cache::connect(CacheConfig {
        redis_url: Some(proxy.url().into()),
        ..shared.clone()
    })
    .await;
    let other_replica = Cache::connect(shared).await;
    let loads = Loads::default();
    let cached = a
        .get_or_load(&categories::PERMISSIONS, "user-1", || {
            loads.load("v1".to_owned())
        })
        .await;
    assert_eq!(cached, Ok("v1".to_owned()));
    assert!(a.redis_healthy());

    proxy.cut();
    wait_until("a notices the outage", || async { !a.redis_healthy() }).await;
    let during = a
        .get_or_load(&categories::PERMISSIONS, "user-1", || {
            loads.load("unexpected".to_owned())
        })
        .await;
    assert_eq!(
        during,
        Ok("v1".to_owned()),
        "served from L1 during the outage"
    );
    // An invalidation `a` cannot receive while cut off.
    other_replica
        .invalidate(&categories::PERMISSIONS, "user-1")
        .await;

    proxy.restore();
    wait_until("a is healthy again", || async { a.redis_healthy() }).await;

    let after = a
        .get_or_load(&categories::PERMISSIONS, "user-1", || {
            loads.load("v2".to_owned())
        })
        .await;
    assert_eq!(
        after,
        Ok("v2".to_owned()),
        "L1 was cleared on resubscribing"
    );
    wait_until("a's writes reach Redis again", || async {
        a.set(&categories::JWT, "t", &"claims".to_owned()).await;
        other_replica.get::<String>(&categories::JWT, "t").await == Some("claims".to_owned())
    })
    .await;
}
