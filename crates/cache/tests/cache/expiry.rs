//! Per-category TTLs in L1 and Redis.

use std::time::Duration;

use temponest_cache::{Cache, CacheConfig, Category, categories};

use crate::support::{Loads, config, wait_until};

const BLINK: Category = Category::new("test_blink", Duration::from_millis(50));

#[tokio::test]
async fn entries_of_a_short_ttl_category_are_reloaded_after_they_expire() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();
    let first = cache.get_or_load(&BLINK, "k", || loads.load(1)).await;
    assert_eq!(first, Ok(1));

    wait_until(
        "the entry expired in both tiers and was reloaded",
        || async {
            let _ = cache.get_or_load(&BLINK, "k", || loads.load(2)).await;
            loads.count() == 2
        },
    )
    .await;
}

#[tokio::test]
async fn each_l1_entry_expires_with_its_own_category_ttl() {
    // L1 only, so expiry is L1's doing.
    let cache = Cache::connect(CacheConfig::default()).await;
    let (short, long) = (Loads::default(), Loads::default());
    let _ = cache.get_or_load(&BLINK, "k", || short.load(1)).await;
    let _ = cache
        .get_or_load(&categories::EMBEDDINGS, "k", || long.load(1))
        .await;

    wait_until("the short-lived entry was reloaded", || async {
        let _ = cache.get_or_load(&BLINK, "k", || short.load(2)).await;
        short.count() == 2
    })
    .await;

    let long_lived = cache
        .get_or_load(&categories::EMBEDDINGS, "k", || long.load(2))
        .await;
    assert_eq!(long_lived, Ok(1));
    assert_eq!(long.count(), 1);
}
