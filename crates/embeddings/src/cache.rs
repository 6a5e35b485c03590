//! The embedding cache: vectors by `sha256(model, text)`, bounded in bytes, so identical
//! texts (re-uploaded documents, repeated boilerplate chunks, repeated queries) are not sent
//! to the provider again. One cache per client, so the provider is implied; the model is
//! part of the key, so changing models never serves the other model's vectors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// `sha256(len(model) as u64 LE ‖ model ‖ text)`: the length prefix keeps
/// `("ab", "c")` and `("a", "bc")` apart.
pub(crate) type Key = [u8; 32];

pub(crate) fn key(model: &str, text: &str) -> Key {
    let mut hasher = Sha256::new();
    hasher.update((model.len() as u64).to_le_bytes());
    hasher.update(model.as_bytes());
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

/// Texts served from the cache (or from an identical text in the same call) and texts sent to
/// the provider, since the client was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

pub(crate) struct EmbeddingCache {
    /// `None` when disabled (`cache_max_bytes = 0`).
    vectors: Option<moka::future::Cache<Key, Arc<[f32]>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl EmbeddingCache {
    pub(crate) fn new(max_bytes: u64) -> Self {
        let vectors = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_key: &Key, vector: &Arc<[f32]>| {
                    u32::try_from(32 + vector.len() * 4).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            vectors,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) async fn get(&self, key: &Key) -> Option<Arc<[f32]>> {
        self.vectors.as_ref()?.get(key).await
    }

    pub(crate) async fn insert(&self, key: Key, vector: Arc<[f32]>) {
        if let Some(vectors) = &self.vectors {
            vectors.insert(key, vector).await;
        }
    }

    pub(crate) fn count(&self, hits: u64, misses: u64) {
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.misses.fetch_add(misses, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_model_and_text() {
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert_ne!(key("m1", "text"), key("m2", "text"));
        assert_eq!(key("m", "text"), key("m", "text"));
    }

    #[tokio::test]
    async fn a_zero_budget_disables_the_cache() {
        let cache = EmbeddingCache::new(0);
        cache.insert(key("m", "t"), Arc::from([1.0f32])).await;
        assert!(cache.get(&key("m", "t")).await.is_none());
        let cache = EmbeddingCache::new(1 << 20);
        cache.insert(key("m", "t"), Arc::from([1.0f32])).await;
        assert_eq!(
            cache.get(&key("m", "t")).await.as_deref(),
            Some(&[1.0f32][..])
        );
    }
}
