//! Hit, miss and error counters, read through a thread-local debugging recorder: each test runs
//! on its own current-thread runtime, so parallel tests never share counters.

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use temponest_cache::{Cache, categories, counters};

use crate::support::{Loads, cache_without_reachable_redis, config};

/// Counter values by "name{label=value,...}" (labels in recording order). Taking a snapshot
/// resets the recorder, so each test takes one at the end.
fn counter_values(snapshotter: &Snapshotter) -> HashMap<String, u64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                return None;
            };
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            Some((format!("{}{{{}}}", key.name(), labels.join(",")), count))
        })
        .collect()
}

#[tokio::test]
async fn hits_and_misses_are_counted_with_the_category_and_tier() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (a, b) = {
        let config = config();
        (
            Cache::connect(config.clone()).await,
            Cache::connect(config).await,
        )
    };
    let loads = Loads::default();

    // miss + load on a, L1 hit on a, L2 hit on b, then a plain miss in another category.
    for cache in [&a, &a, &b] {
        let _ = cache
            .get_or_load(&categories::PERMISSIONS, "user-1", || loads.load(1))
            .await;
    }
    assert_eq!(b.get::<u32>(&categories::JWT, "absent").await, None);

    let values = counter_values(&snapshotter);
    let value = |key: &str| values.get(key).copied().unwrap_or(0);
    assert_eq!(
        value("cache_misses_total{cache=permissions}"),
        1,
        "{values:?}"
    );
    assert_eq!(
        value("cache_hits_total{cache=permissions,tier=l1}"),
        1,
        "{values:?}"
    );
    assert_eq!(
        value("cache_hits_total{cache=permissions,tier=l2}"),
        1,
        "{values:?}"
    );
    assert_eq!(value("cache_misses_total{cache=jwt}"), 1, "{values:?}");
    assert_eq!(
        value("cache_errors_total{cache=permissions}"),
        0,
        "{values:?}"
    );
}

#[tokio::test]
async fn redis_failures_are_counted_as_errors_of_the_category() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let cache = cache_without_reachable_redis().await;
    let loads = Loads::default();

    let _ = cache
        .get_or_load(&categories::RAG, "q", || loads.load(1))
        .await;

    let values = counter_values(&snapshotter);
    let errors = values
        .get(&format!("{}{{cache=rag}}", counters::ERRORS))
        .copied()
        .unwrap_or(0);
    assert!(errors >= 1, "{values:?}");
    assert_eq!(
        values.get("cache_misses_total{cache=rag}"),
        Some(&1),
        "{values:?}"
    );
}
