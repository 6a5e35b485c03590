//! The read and write paths across the two tiers, shared by the public [`Cache`] methods:
//! single-flight loading through L1, Redis reads and writes with JSON (de)serialization, the
//! cached namespace versions, and publishing invalidations.
//!
//! [`Cache`]: crate::Cache

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use crate::bus::Target;
use crate::categories::Category;
use crate::counters::{self, Tier};
use crate::keys::Version;
use crate::l1::L1Value;
use crate::{Cacheable, Inner, LoadError};

/// Longest time a namespace version read from Redis is trusted without asking again. Replicas
/// are told about bumps over the bus; this bounds staleness if a message is lost.
const NAMESPACE_VERSION_TTL: Duration = Duration::from_secs(5);

/// How long a namespace version key lives in Redis after its last read or bump.
///
/// Longer than any entry written under that version can live (the version is trusted for
/// [`NAMESPACE_VERSION_TTL`], then the entry lives one category TTL), so when an idle version key
/// expires and the version restarts at 0, no entry of an earlier version can resurface.
pub(crate) fn version_key_ttl(category: &Category) -> Duration {
    category.ttl + NAMESPACE_VERSION_TTL + Duration::from_secs(60)
}

impl Inner {
    /// The value in L1, if there is one of type `T` (counted as an L1 hit).
    pub(crate) async fn l1_hit<T: Clone + 'static>(
        &self,
        category: &Category,
        full_key: &str,
    ) -> Option<T> {
        let value = self.l1.get(full_key).await?.downcast::<T>()?;
        counters::hit(category.name, Tier::L1);
        Some(value)
    }

    /// L1 (single-flight) → Redis when `shared` → `loader`.
    pub(crate) async fn load_through<T, E, F, Fut>(
        &self,
        category: &Category,
        full_key: String,
        shared: bool,
        loader: F,
    ) -> Result<T, E>
    where
        T: Cacheable,
        E: LoadError,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // The loader stays here (not moved into `init`) so it is still available in the rare
        // case below where the cached entry turns out to have another type.
        let mut loader = Some(loader);
        let init = async {
            if shared && let Some((value, ttl)) = self.read_l2::<T>(category, &full_key).await {
                counters::hit(category.name, Tier::L2);
                return Ok(L1Value::new(value, ttl));
            }
            counters::miss(category.name);
            let load = loader
                .take()
                .expect("moka runs the init future at most once");
            let value = load().await?;
            if shared {
                self.write_l2(category, &full_key, &value).await;
            }
            Ok(L1Value::new(value, category.ttl))
        };
        let entry = self
            .l1
            .moka()
            .entry(full_key.clone())
            .or_try_insert_with(init)
            .await
            .map_err(Arc::unwrap_or_clone)?;
        if let Some(value) = entry.value().downcast::<T>() {
            if !entry.is_fresh() {
                counters::hit(category.name, Tier::L1);
            }
            return Ok(value);
        }

        // Only an entry stored by another caller can have another type, so the loader is unused.
        warn!(
            cache = category.name,
            "the same cache key is used with two value types; bypassing the cache for this call"
        );
        counters::miss(category.name);
        let load = loader
            .take()
            .expect("an entry this call created has the requested type");
        load().await
    }

    /// The namespace's current version: L1 (single-flight), else Redis; [`Version::Local`]
    /// when there is no Redis or it is unavailable.
    pub(crate) async fn namespace_version(&self, category: &Category, namespace: &str) -> Version {
        let version_key = self.keys.namespace_version(category.name, namespace);
        let Some(redis) = &self.redis else {
            return Version::Local(self.l1.local_version(&version_key));
        };
        if let Some(version) = self.l1.get(&version_key).await.and_then(|v| v.downcast()) {
            return Version::Shared(version);
        }
        Box::pin(self.fetch_namespace_version(category, redis, version_key)).await
    }

    /// [`namespace_version`](Self::namespace_version) when L1 does not hold it.
    async fn fetch_namespace_version(
        &self,
        category: &Category,
        redis: &crate::l2::Redis,
        version_key: String,
    ) -> Version {
        let ttl = category.ttl.min(NAMESPACE_VERSION_TTL);
        let fetch = async {
            let keep_for = version_key_ttl(category);
            let version = redis.version(category.name, &version_key, keep_for).await?;
            Ok::<_, crate::l2::Unavailable>(L1Value::new(version, ttl))
        };
        match self
            .l1
            .moka()
            .try_get_with(version_key.clone(), fetch)
            .await
        {
            Ok(cached) => cached.downcast::<u64>().map_or_else(
                || Version::Local(self.l1.local_version(&version_key)),
                Version::Shared,
            ),
            Err(_) => Version::Local(self.l1.local_version(&version_key)),
        }
    }

    /// The value stored in Redis and how long it may stay in L1 (its remaining Redis TTL, capped
    /// by the category's TTL). `None` on a miss, on a Redis failure and on undecodable data.
    pub(crate) async fn read_l2<T: DeserializeOwned>(
        &self,
        category: &Category,
        full_key: &str,
    ) -> Option<(T, Duration)> {
        let redis = self.redis.as_ref()?;
        let (bytes, remaining) = redis.get(category.name, full_key).await.ok()??;
        match serde_json::from_slice(&bytes) {
            Ok(value) => {
                let ttl = remaining.map_or(category.ttl, |left| left.min(category.ttl));
                Some((value, ttl))
            }
            Err(error) => {
                // The error text can quote the stored data, so only its class is logged.
                counters::error(category.name);
                warn!(
                    cache = category.name,
                    error_class = ?error.classify(),
                    "ignoring a cached value that does not deserialize into the requested type"
                );
                None
            }
        }
    }

    /// Stores `value` in Redis as JSON with the category's TTL (failures are logged and counted).
    pub(crate) async fn write_l2<T: Serialize>(
        &self,
        category: &Category,
        full_key: &str,
        value: &T,
    ) {
        let Some(redis) = &self.redis else {
            return;
        };
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                let _ = redis
                    .set(category.name, full_key, &bytes, category.ttl)
                    .await;
            }
            Err(error) => {
                counters::error(category.name);
                warn!(
                    cache = category.name,
                    %error,
                    "value does not serialize to JSON; kept in L1 only"
                );
            }
        }
    }

    /// Broadcasts an invalidation to the other replicas (no-op without Redis).
    pub(crate) async fn publish(&self, category: &Category, target: Target) {
        if let (Some(redis), Some(bus)) = (&self.redis, &self.bus) {
            bus.publish(redis, category.name, target).await;
        }
    }
}
