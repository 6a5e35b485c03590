//! Two-tier cache-aside for TempoNest services.
//!
//! L1 is an in-process [moka](https://docs.rs/moka) cache shared by every [`Category`]; L2 is
//! Redis, reached through a deadpool pool that other crates can share via
//! [`Cache::redis_pool`]. Values live in Redis as JSON with the category's TTL.
//!
//! - **Reads** go L1 → Redis (refilling L1) → loader (filling both). Concurrent loads of one key
//!   are coalesced: the loader runs once. Loader errors are returned, never cached.
//! - **Invalidation** deletes from Redis and from the local L1, and is broadcast on the Redis
//!   channel `{prefix}:cache:invalidate` so every replica drops its L1 copy. A replica that
//!   loses its subscription clears its whole L1 when it resubscribes, since it may have missed
//!   messages. Namespaces (say, a tenant) carry a version number in their keys so a whole
//!   namespace is dropped with one `INCR`.
//! - **Redis outages** never fail a call: Redis operations are bounded by
//!   [`CacheConfig::redis_timeout`], skipped for a second after a failure, counted in
//!   `cache_errors_total` and logged at most once a minute; the cache then serves from L1 and
//!   the loader, and resumes using Redis by itself.
//!
//! Metrics are described in [`counters`]. Logs name categories, never keys (keys may embed
//! token hashes).
//!
//! ```
//! use temponest_cache::{Cache, CacheConfig, categories};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let cache = Cache::connect(CacheConfig::default()).await; // no redis_url: L1 only
//! let perms: Result<Vec<String>, String> = cache
//!     .get_or_load(&categories::PERMISSIONS, "user-42", || async {
//!         Ok(vec!["jobs:read".to_owned()]) // e.g. a database query
//!     })
//!     .await;
//! assert_eq!(perms.unwrap(), ["jobs:read"]);
//! # }
//! ```

mod bus;
pub mod categories;
mod config;
pub mod counters;
mod keys;
mod l1;
mod l2;
mod shared_connection;
mod tiers;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temponest_secrets::SecretUrl;
use tracing::{error, instrument};

pub use categories::Category;
pub use config::CacheConfig;
pub use shared_connection::SharedConnection;

use bus::{Bus, Target};

/// What a loader may produce to be cached: stored as JSON in Redis, shared in L1.
pub trait Cacheable: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Cacheable for T {}

/// A loader's error: handed to every caller waiting for the same load, never cached.
pub trait LoadError: Clone + Send + Sync + 'static {}

impl<E: Clone + Send + Sync + 'static> LoadError for E {}
use counters::Tier;
use keys::{Keys, Version};
use l1::{L1, L1Value};
use l2::Redis;

/// Handle to the cache. Cheap to clone; the background invalidation subscriber stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

/// State shared by the clones of one `Cache`.
struct Inner {
    keys: Keys,
    l1: L1,
    redis: Option<Arc<Redis>>,
    /// Present exactly when `redis` is.
    bus: Option<Bus>,
}

impl Cache {
    /// Builds the cache. Never fails: without `redis_url`, or with an unparsable one (logged at
    /// error level), it runs on L1 only. If Redis is unreachable it logs a warning, runs on L1
    /// only and keeps reconnecting in the background.
    ///
    /// Returns once the invalidation subscription is live or its first attempt has failed
    /// (bounded by `redis_timeout`, at least one second), so invalidations published after
    /// `connect` returns are not missed. Must be called within a Tokio runtime: it spawns the
    /// subscriber task.
    pub async fn connect(config: CacheConfig) -> Cache {
        let keys = Keys::new(config.key_prefix);
        let l1 = L1::new(config.l1_max_entries);
        let (redis, bus) = match config.redis_url.as_ref().map(SecretUrl::expose) {
            Some(url) => match start_redis(url, config.redis_timeout, &l1, &keys).await {
                Some((redis, bus)) => (Some(redis), Some(bus)),
                None => (None, None),
            },
            None => (None, None),
        };
        Cache {
            inner: Arc::new(Inner {
                keys,
                l1,
                redis,
                bus,
            }),
        }
    }

    /// The Redis pool, for other crates (rate limiting) to share. Its wait, create and recycle
    /// timeouts are `redis_timeout`. `None` when the cache runs without Redis (no or an invalid
    /// `redis_url`).
    pub fn redis_pool(&self) -> Option<deadpool_redis::Pool> {
        self.inner.redis.as_ref().map(|redis| redis.pool().clone())
    }

    /// The prefix of every Redis key this cache writes (shared with the rate limiter).
    pub fn key_prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// True when the last Redis operation (including the invalidation subscription) succeeded.
    /// Always false without Redis.
    pub fn redis_healthy(&self) -> bool {
        self.inner
            .redis
            .as_ref()
            .is_some_and(|redis| redis.healthy())
    }

    /// Cache-aside read: L1, then Redis (refilling L1 with the remaining TTL), then `loader`
    /// (filling Redis and L1). Concurrent calls for the same key share one loader run; the others
    /// wait for its result. A loader error is returned to every waiter and not cached.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        category: &Category,
        key: &str,
        loader: F,
    ) -> Result<T, E>
    where
        T: Cacheable,
        E: LoadError,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let full_key = self.inner.keys.entry(category.name, key);
        if let Some(value) = self.inner.l1_hit(category, &full_key).await {
            return Ok(value);
        }
        // Boxed: the miss path's future is large, and a hit should not build or move it.
        Box::pin(self.inner.load_through(category, full_key, true, loader)).await
    }

    /// [`get_or_load`](Self::get_or_load) inside a namespace (e.g. a tenant id) that
    /// [`invalidate_namespace`](Self::invalidate_namespace) can drop as a whole. Keys embed the
    /// namespace's current version, read from Redis and cached in L1 for at most 5 s (less if
    /// the category's TTL is shorter). While Redis is unavailable the entry is kept in L1 only.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn get_or_load_in<T, E, F, Fut>(
        &self,
        category: &Category,
        namespace: &str,
        key: &str,
        loader: F,
    ) -> Result<T, E>
    where
        T: Cacheable,
        E: LoadError,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let version = self.inner.namespace_version(category, namespace).await;
        let full_key = self
            .inner
            .keys
            .namespaced_entry(category.name, namespace, version, key);
        let shared = matches!(version, Version::Shared(_));
        if let Some(value) = self.inner.l1_hit(category, &full_key).await {
            return Ok(value);
        }
        Box::pin(self.inner.load_through(category, full_key, shared, loader)).await
    }

    /// Reads without loading: L1, then Redis (refilling L1). `None` on a miss.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn get<T>(&self, category: &Category, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let inner = &self.inner;
        let full_key = inner.keys.entry(category.name, key);
        if let Some(value) = inner.l1.get(&full_key).await.and_then(|v| v.downcast()) {
            counters::hit(category.name, Tier::L1);
            return Some(value);
        }
        if let Some((value, ttl)) = inner.read_l2::<T>(category, &full_key).await {
            counters::hit(category.name, Tier::L2);
            inner
                .l1
                .insert(full_key, L1Value::new(value.clone(), ttl))
                .await;
            return Some(value);
        }
        counters::miss(category.name);
        None
    }

    /// Writes `value` to Redis and L1 with the category's TTL, and tells the other replicas to
    /// drop their (now stale) L1 copy.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn set<T>(&self, category: &Category, key: &str, value: &T)
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        let inner = &self.inner;
        let full_key = inner.keys.entry(category.name, key);
        inner.write_l2(category, &full_key, value).await;
        inner
            .l1
            .insert(full_key.clone(), L1Value::new(value.clone(), category.ttl))
            .await;
        inner.publish(category, Target::Key { key: full_key }).await;
    }

    /// Removes the entry from Redis and from L1 here, and broadcasts the invalidation so every
    /// other replica drops its L1 copy.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn invalidate(&self, category: &Category, key: &str) {
        let inner = &self.inner;
        let full_key = inner.keys.entry(category.name, key);
        if let Some(redis) = &inner.redis {
            let _ = redis.del(category.name, &full_key).await;
        }
        inner.l1.drop_key(&full_key).await;
        inner.publish(category, Target::Key { key: full_key }).await;
    }

    /// Drops every entry of `namespace` in `category` in O(1): bumps the namespace version in
    /// Redis (`INCR`, no key scans), drops the cached version and the namespace's L1 entries
    /// here, and broadcasts so other replicas do the same. Old entries age out of Redis by TTL.
    ///
    /// While Redis is unavailable only this replica's L1 is cleared; the bump is not retried.
    #[instrument(level = "debug", skip_all, fields(cache = category.name))]
    pub async fn invalidate_namespace(&self, category: &Category, namespace: &str) {
        let inner = &self.inner;
        let version_key = inner.keys.namespace_version(category.name, namespace);
        if let Some(redis) = &inner.redis {
            let keep_for = tiers::version_key_ttl(category);
            let target = Target::Namespace {
                category: category.name.to_owned(),
                namespace: namespace.to_owned(),
            };
            // Bump and broadcast in one round trip.
            let message = inner.bus.as_ref().and_then(|bus| bus.message(target));
            let announce = match (&inner.bus, &message) {
                (Some(bus), Some(message)) => Some((bus.channel(), message.as_slice())),
                _ => None,
            };
            let _ = redis
                .bump(category.name, &version_key, keep_for, announce)
                .await;
        }
        inner.l1.drop_namespace(&version_key).await;
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("key_prefix", &self.inner.keys.prefix())
            .field("redis", &self.inner.redis.is_some())
            .field("redis_healthy", &self.redis_healthy())
            .finish_non_exhaustive()
    }
}

/// Builds the Redis tier and starts the invalidation bus; `None` (logged) on an invalid URL.
async fn start_redis(
    url: &str,
    timeout: Duration,
    l1: &L1,
    keys: &Keys,
) -> Option<(Arc<Redis>, Bus)> {
    let built = Redis::new(url, timeout)
        .map_err(|e| e.to_string())
        .and_then(|redis| Ok((redis, redis::Client::open(url).map_err(|e| e.to_string())?)));
    let (redis, client) = match built {
        Ok(built) => built,
        Err(error) => {
            error!(%error, "invalid redis url; cache runs on L1 only");
            return None;
        }
    };
    let redis = Arc::new(redis);
    let connect_timeout = timeout.max(Duration::from_secs(1));
    let (bus, ready) = Bus::start(
        client,
        Arc::clone(&redis),
        l1.clone(),
        keys.clone(),
        connect_timeout,
    );
    // Either outcome is fine: failures are logged by the bus, which keeps retrying.
    let _ = tokio::time::timeout(connect_timeout, ready).await;
    Some((redis, bus))
}
