//! Invalidation across replicas over Redis pub/sub, and the subscriber's lifecycle.

use temponest_cache::{Cache, categories};

use crate::support::{Loads, config, subscriber_count, two_replicas, wait_until};

#[tokio::test]
async fn invalidate_on_one_instance_drops_the_value_from_another_instances_l1_and_from_redis() {
    let config = config();
    let a = Cache::connect(config.clone()).await;
    let b = Cache::connect(config.clone()).await;
    let loads = Loads::default();
    for cache in [&a, &b] {
        let value = cache
            .get_or_load(&categories::INTROSPECTION, "key-hash", || {
                loads.load("active".to_owned())
            })
            .await;
        assert_eq!(value, Ok("active".to_owned()));
    }
    assert_eq!(loads.count(), 1, "b was filled from Redis");

    a.invalidate(&categories::INTROSPECTION, "key-hash").await;

    // Redis no longer has it, so `b` can only answer from its L1 until the message arrives.
    wait_until("b dropped its L1 copy", || async {
        b.get::<String>(&categories::INTROSPECTION, "key-hash")
            .await
            .is_none()
    })
    .await;
    let c = Cache::connect(config).await;
    assert_eq!(
        c.get::<String>(&categories::INTROSPECTION, "key-hash")
            .await,
        None,
        "a fresh instance finds nothing in Redis"
    );
    let reloaded = a
        .get_or_load(&categories::INTROSPECTION, "key-hash", || {
            loads.load("revoked".to_owned())
        })
        .await;
    assert_eq!(reloaded, Ok("revoked".to_owned()));
}

#[tokio::test]
async fn set_on_one_instance_replaces_the_value_another_instance_had_cached() {
    let (a, b) = two_replicas().await;
    a.set(&categories::AGENT_CONFIG, "agent-1", &"v1".to_owned())
        .await;
    assert_eq!(
        b.get::<String>(&categories::AGENT_CONFIG, "agent-1").await,
        Some("v1".to_owned())
    );

    a.set(&categories::AGENT_CONFIG, "agent-1", &"v2".to_owned())
        .await;

    wait_until("b sees the new value", || async {
        b.get::<String>(&categories::AGENT_CONFIG, "agent-1").await == Some("v2".to_owned())
    })
    .await;
}

#[tokio::test]
async fn dropping_the_last_cache_handle_stops_its_invalidation_subscriber() {
    let config = config();
    let channel = format!("{}:cache:invalidate", config.key_prefix);
    let cache = Cache::connect(config).await;
    assert_eq!(subscriber_count(&channel).await, 1);

    let clone = cache.clone();
    drop(cache);
    assert_eq!(
        subscriber_count(&channel).await,
        1,
        "a clone keeps it alive"
    );

    drop(clone);
    wait_until("the subscription is closed", || async {
        subscriber_count(&channel).await == 0
    })
    .await;
}
