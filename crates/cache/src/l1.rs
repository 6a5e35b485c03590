//! L1: one in-process moka cache for every category, keyed by the full key string.
//!
//! Values are stored type-erased (`Arc<dyn Any>`) so an L1 hit is a clone, not a JSON decode.
//! Each entry carries its own TTL, applied through moka's per-entry [`Expiry`].

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;

/// A cached value and how long it may live.
#[derive(Clone)]
pub(crate) struct L1Value {
    value: Arc<dyn Any + Send + Sync>,
    ttl: Duration,
}

impl L1Value {
    pub(crate) fn new<T: Any + Send + Sync>(value: T, ttl: Duration) -> Self {
        Self {
            value: Arc::new(value),
            ttl,
        }
    }

    /// A clone of the value, or `None` when it was stored as another type (the same key used
    /// with two types, a caller bug that is handled as a miss).
    pub(crate) fn downcast<T: Clone + 'static>(&self) -> Option<T> {
        self.value.downcast_ref::<T>().cloned()
    }
}

/// Expires each entry after the TTL it was stored with.
struct PerEntryTtl;

impl Expiry<String, L1Value> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, value: &L1Value, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &L1Value,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The process-local tier. Cheap to clone (moka caches are handles).
#[derive(Clone)]
pub(crate) struct L1 {
    cache: moka::future::Cache<String, L1Value>,
    /// Process-local namespace epochs (used while Redis is unavailable), by version key.
    local_versions: moka::sync::Cache<String, u64>,
    /// The next epoch: epochs are never reused, so an entry stored under a dropped epoch (or
    /// one whose namespace was evicted from `local_versions`) can never be read again.
    next_epoch: Arc<AtomicU64>,
}

impl L1 {
    pub(crate) fn new(max_entries: u64) -> Self {
        let cache = moka::future::Cache::builder()
            .name("temponest-cache-l1")
            .max_capacity(max_entries)
            .expire_after(PerEntryTtl)
            .build();
        Self {
            cache,
            local_versions: moka::sync::Cache::new(max_entries),
            next_epoch: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The namespace's process-local epoch (a fresh one for a namespace not seen yet).
    pub(crate) fn local_version(&self, version_key: &str) -> u64 {
        self.local_versions.get_with_by_ref(version_key, || {
            self.next_epoch.fetch_add(1, Ordering::Relaxed)
        })
    }

    /// The moka cache itself, for its single-flight entry API.
    pub(crate) fn moka(&self) -> &moka::future::Cache<String, L1Value> {
        &self.cache
    }

    pub(crate) async fn get(&self, key: &str) -> Option<L1Value> {
        self.cache.get(key).await
    }

    pub(crate) async fn insert(&self, key: String, value: L1Value) {
        self.cache.insert(key, value).await;
    }

    pub(crate) async fn drop_key(&self, key: &str) {
        self.cache.invalidate(key).await;
    }

    /// Makes every entry of a namespace unreachable in O(1): the cached shared version is
    /// dropped (the next read fetches the bumped one from Redis) and the local epoch replaced.
    /// The old entries are never read again and expire with their TTL.
    pub(crate) async fn drop_namespace(&self, version_key: &str) {
        self.cache.invalidate(version_key).await;
        self.local_versions.insert(
            version_key.to_owned(),
            self.next_epoch.fetch_add(1, Ordering::Relaxed),
        );
    }

    /// Drops everything, e.g. after the invalidation subscription was lost and messages may have
    /// been missed.
    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }
}
