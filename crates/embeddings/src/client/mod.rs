//! [`Embedder`]: one configured provider. `embed_batch` serves what it can from the cache,
//! sends each distinct remaining text once, in batches of `batch_size`, at most
//! `max_concurrency` requests in flight per client (shared by all concurrent calls), retries
//! transient failures, and checks the answer (one vector per text, one dimension count).
//!
//! Retries (429, 500, 502, 503, 504, connection refused/unreachable): full-jitter exponential
//! backoff from `crates/retry`, never shorter than the server's `Retry-After`; a
//! `Retry-After` longer than `backoff_max_ms` fails the call at once. Timeouts are not retried
//! (the time budget is spent). A request holds its concurrency slot only while it is in
//! flight, not while it waits to retry.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use temponest_retry::{Backoff, Jitter};
use tokio::sync::Semaphore;

mod transport;

use crate::cache::{CacheStats, EmbeddingCache, Key, key};
use crate::{EmbeddingConfig, EmbeddingError, EmbeddingIdentity, EmbeddingKind};

/// Above this many bytes of input, hashing for the cache moves to a blocking thread.
const INLINE_HASH_BYTES: usize = 64 << 10;

/// The vectors of one [`Embedder::embed_batch`] call, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// `provider/model@dims`; `None` only for an empty input.
    pub identity: Option<EmbeddingIdentity>,
}

/// A client for one embedding provider; cheap to clone (clones share the connection pool,
/// the concurrency limit and the cache).
#[derive(Clone)]
pub struct Embedder {
    inner: Arc<Inner>,
}

struct Inner {
    provider: String,
    kind: EmbeddingKind,
    http: reqwest::Client,
    url: String,
    /// The base URL without credentials, for messages.
    shown_url: String,
    headers: HeaderMap,
    batch_size: usize,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    slots: Semaphore,
    cache: EmbeddingCache,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("provider", &self.inner.provider)
            .field("url", &self.inner.shown_url)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// A client named `provider` (the first part of the identities it stamps; no `/`) with
    /// `config`, sending through `http` — the process's shared client, built once with
    /// rustls (ring) like every platform HTTP client; timeouts are applied per request here.
    pub fn new(
        provider: impl Into<String>,
        config: &EmbeddingConfig,
        http: reqwest::Client,
    ) -> Result<Self, EmbeddingError> {
        let provider = provider.into();
        if provider.is_empty() || provider.contains('/') {
            return Err(EmbeddingError::InvalidConfig {
                field: "provider",
                reason: format!("name '{provider}' must be non-empty and contain no '/'"),
            });
        }
        config.validate()?;
        let base = config.effective_base_url();
        let mut shown = reqwest::Url::parse(base).map_err(|e| EmbeddingError::InvalidConfig {
            field: "base_url",
            reason: e.to_string(),
        })?;
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = config.key() {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                EmbeddingError::InvalidConfig {
                    field: "api_key",
                    reason: "contains characters not allowed in a header".into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                provider,
                kind: config.kind,
                http,
                url: format!("{base}{}", config.kind.path()),
                shown_url: shown.as_str().trim_end_matches('/').to_owned(),
                headers,
                batch_size: config.batch_size,
                timeout: config.timeout(),
                max_retries: config.max_retries,
                backoff: Backoff::new(
                    Duration::from_millis(config.backoff_base_ms),
                    Duration::from_millis(config.backoff_max_ms),
                    Jitter::Full,
                ),
                slots: Semaphore::new(config.max_concurrency),
                cache: EmbeddingCache::new(config.cache_max_bytes),
            }),
        })
    }

    /// The provider name given at construction.
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// `provider/model@dims` for vectors of `model` from this client.
    pub fn identity(&self, model: &str, dims: usize) -> EmbeddingIdentity {
        EmbeddingIdentity {
            provider: self.inner.provider.clone(),
            model: model.to_owned(),
            dims,
        }
    }

    /// Cache hits and misses so far (also exported as metrics).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Embeds `texts` with `model`; vectors come back in input order, all of one dimension.
    /// Fails as a whole: a batch that fails after its retries cancels the others.
    pub async fn embed_batch(
        &self,
        model: &str,
        texts: Vec<String>,
    ) -> Result<Embeddings, EmbeddingError> {
        let inner = &self.inner;
        if texts.is_empty() {
            return Ok(Embeddings {
                vectors: Vec::new(),
                identity: None,
            });
        }
        let texts: Arc<[String]> = texts.into();
        let keys = cache_keys(model, &texts).await;

        // Cached vectors, and each distinct missing text once with the positions it fills.
        let mut vectors: Vec<Option<Arc<[f32]>>> = vec![None; texts.len()];
        let mut missing: Vec<(Key, Vec<usize>)> = Vec::new();
        let mut first: HashMap<Key, usize> = HashMap::new();
        for (position, key) in keys.iter().enumerate() {
            if let Some(vector) = inner.cache.get(key).await {
                vectors[position] = Some(vector);
                continue;
            }
            match first.entry(*key) {
                Entry::Occupied(entry) => missing[*entry.get()].1.push(position),
                Entry::Vacant(entry) => {
                    entry.insert(missing.len());
                    missing.push((*key, vec![position]));
                }
            }
        }
        let misses = missing.len() as u64;
        inner.cache.count(texts.len() as u64 - misses, misses);
        metrics::counter!("embedding_cache_hits_total", "provider" => inner.provider.clone())
            .increment(texts.len() as u64 - misses);
        metrics::counter!("embedding_cache_misses_total", "provider" => inner.provider.clone())
            .increment(misses);

        let batches = missing.chunks(inner.batch_size).map(|batch| {
            let input: Vec<String> = batch
                .iter()
                .map(|(_, positions)| texts[positions[0]].clone())
                .collect();
            self.request(model, input)
        });
        let answers = futures::future::try_join_all(batches).await?;

        let mut fresh = Vec::with_capacity(missing.len());
        for (batch, answer) in missing.chunks(inner.batch_size).zip(answers) {
            for ((key, positions), vector) in batch.iter().zip(answer) {
                let vector: Arc<[f32]> = vector.into();
                for &position in positions {
                    vectors[position] = Some(vector.clone());
                }
                fresh.push((*key, vector));
            }
        }
        let vectors: Vec<Arc<[f32]>> = vectors.into_iter().flatten().collect();
        let dims = self.check_dims(&vectors)?;
        for (key, vector) in fresh {
            inner.cache.insert(key, vector).await;
        }
        Ok(Embeddings {
            vectors: vectors.iter().map(|v| v.to_vec()).collect(),
            identity: Some(self.identity(model, dims)),
        })
    }

    /// Every vector has the first one's (non-zero) length.
    fn check_dims(&self, vectors: &[Arc<[f32]>]) -> Result<usize, EmbeddingError> {
        let dims = vectors.first().map_or(0, |v| v.len());
        if dims == 0 {
            return Err(EmbeddingError::Malformed {
                provider: self.inner.provider.clone(),
                detail: "an embedding is empty".into(),
            });
        }
        match vectors.iter().position(|v| v.len() != dims) {
            Some(text) => Err(EmbeddingError::DimensionMismatch {
                provider: self.inner.provider.clone(),
                text,
                expected: dims,
                actual: vectors[text].len(),
            }),
            None => Ok(dims),
        }
    }
}

/// The cache key of every text; hashing megabytes of text runs on a blocking thread.
async fn cache_keys(model: &str, texts: &Arc<[String]>) -> Vec<Key> {
    let bytes: usize = texts.iter().map(String::len).sum();
    if bytes <= INLINE_HASH_BYTES {
        return texts.iter().map(|text| key(model, text)).collect();
    }
    let (model, texts) = (model.to_owned(), texts.clone());
    tokio::task::spawn_blocking(move || texts.iter().map(|text| key(&model, text)).collect())
        .await
        .expect("hashing does not panic")
}
