//! Namespaced entries and O(1) namespace invalidation.

use temponest_cache::{Cache, categories};

use crate::support::{Loads, config, two_replicas, wait_until};

const RAG: &temponest_cache::Category = &categories::RAG;

async fn load_in(cache: &Cache, namespace: &str, key: &str, value: &str, loads: &Loads) -> String {
    cache
        .get_or_load_in(RAG, namespace, key, || loads.load(value.to_owned()))
        .await
        .unwrap()
}

#[tokio::test]
async fn invalidating_a_namespace_makes_every_key_in_it_miss_on_every_instance() {
    let (a, b) = two_replicas().await;
    let loads = Loads::default();
    for key in ["q1", "q2"] {
        assert_eq!(load_in(&a, "tenant-1", key, "old", &loads).await, "old");
        assert_eq!(load_in(&b, "tenant-1", key, "old", &loads).await, "old");
    }
    assert_eq!(loads.count(), 2, "b was filled from Redis");

    a.invalidate_namespace(RAG, "tenant-1").await;

    for key in ["q1", "q2"] {
        assert_eq!(load_in(&a, "tenant-1", key, "new", &loads).await, "new");
    }
    assert_eq!(loads.count(), 4, "a reloaded both keys");
    for key in ["q1", "q2"] {
        wait_until("b stops serving the old value", || async {
            load_in(&b, "tenant-1", key, "new", &loads).await == "new"
        })
        .await;
    }
}

#[tokio::test]
async fn invalidating_a_namespace_leaves_other_namespaces_and_categories_cached() {
    let (a, b) = two_replicas().await;
    let loads = Loads::default();
    load_in(&a, "tenant-1", "q", "t1", &loads).await;
    load_in(&a, "tenant-2", "q", "t2", &loads).await;
    let other_category = a
        .get_or_load_in(&categories::DASHBOARD, "tenant-1", "q", || {
            loads.load("dash".to_owned())
        })
        .await;
    assert_eq!(other_category, Ok("dash".to_owned()));
    assert_eq!(loads.count(), 3);

    a.invalidate_namespace(RAG, "tenant-1").await;

    assert_eq!(load_in(&a, "tenant-2", "q", "reloaded", &loads).await, "t2");
    assert_eq!(load_in(&b, "tenant-2", "q", "reloaded", &loads).await, "t2");
    let still_cached = b
        .get_or_load_in(&categories::DASHBOARD, "tenant-1", "q", || {
            loads.load("reloaded".to_owned())
        })
        .await;
    assert_eq!(still_cached, Ok("dash".to_owned()));
    assert_eq!(
        loads.count(),
        3,
        "nothing outside the namespace was reloaded"
    );
}

#[tokio::test]
async fn a_namespaced_key_and_a_plain_key_with_the_same_name_are_separate_entries() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();
    load_in(&cache, "tenant-1", "q", "namespaced", &loads).await;

    let plain = cache
        .get_or_load(RAG, "q", || loads.load("plain".to_owned()))
        .await;

    assert_eq!(plain, Ok("plain".to_owned()));
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn without_redis_a_namespace_is_still_invalidated_in_process() {
    let cache = crate::support::cache_without_reachable_redis().await;
    let loads = Loads::default();
    assert_eq!(load_in(&cache, "tenant-1", "q", "old", &loads).await, "old");
    assert_eq!(
        load_in(&cache, "tenant-1", "q", "other", &loads).await,
        "old",
        "cached"
    );
    assert_eq!(load_in(&cache, "tenant-2", "q", "t2", &loads).await, "t2");
    cache.invalidate_namespace(RAG, "tenant-1").await;
    assert_eq!(load_in(&cache, "tenant-1", "q", "new", &loads).await, "new");
    assert_eq!(
        load_in(&cache, "tenant-1", "q", "newer", &loads).await,
        "new",
        "cached again"
    );
    assert_eq!(
        load_in(&cache, "tenant-2", "q", "x", &loads).await,
        "t2",
        "other namespaces kept"
    );
    assert_eq!(loads.count(), 3);
}
