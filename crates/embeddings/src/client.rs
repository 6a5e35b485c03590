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
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use temponest_retry::{Backoff, Jitter};
use tokio::sync::Semaphore;

use crate::cache::{CacheStats, EmbeddingCache, Key, key};
use crate::wire::{EmbedRequest, error_message, parse};
use crate::{EmbeddingConfig, EmbeddingError, EmbeddingIdentity, EmbeddingKind};

/// Statuses worth retrying.
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
/// Above this many bytes of input, hashing for the cache moves to a blocking thread.
const INLINE_HASH_BYTES: usize = 64 << 10;
/// Largest accepted response body.
const MAX_BODY_BYTES: u64 = 256 << 20;

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

/// How one attempt failed, and whether another may help.
struct Failure {
    error: EmbeddingError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: EmbeddingError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
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

    /// One batch, with retries; returns exactly one vector per input.
    async fn request(
        &self,
        model: &str,
        input: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let inner = &self.inner;
        let body = serde_json::to_vec(&EmbedRequest {
            model,
            input: &input,
        })
        .map(Bytes::from)
        .map_err(|e| self.malformed(format!("request encoding: {e}")))?;
        let mut retry: u32 = 0;
        loop {
            let attempt = {
                let _slot = inner
                    .slots
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                self.attempt(&body).await
            };
            let failure = match attempt {
                Ok(body) => {
                    let result = self.decode(body, input.len()).await;
                    self.record(result.as_ref().err());
                    return result;
                }
                Err(failure) => failure,
            };
            if !failure.retryable || retry >= inner.max_retries {
                self.record(Some(&failure.error));
                return Err(failure.error);
            }
            if let Some(wait) = failure.retry_after
                && wait > inner.backoff.max
            {
                let error = self.asked_to_wait(failure.error, wait);
                self.record(Some(&error));
                return Err(error);
            }
            let delay = inner.backoff.delay_honouring(retry, failure.retry_after);
            tracing::warn!(
                provider = %inner.provider,
                retry,
                error = %failure.error,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying embedding request"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: &Bytes) -> Result<Bytes, Failure> {
        let inner = &self.inner;
        let response = inner
            .http
            .post(&inner.url)
            .headers(inner.headers.clone())
            .timeout(inner.timeout)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| self.send_failure(&e))?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            let retry_after = temponest_retry::retry_after(response.headers(), SystemTime::now());
            let body = response.bytes().await.unwrap_or_default();
            let message = error_message(&body, status.canonical_reason().unwrap_or("error"));
            let error = if code == 429 {
                EmbeddingError::RateLimited {
                    provider: inner.provider.clone(),
                    retry_after_secs: retry_after.map(ceil_secs),
                }
            } else {
                EmbeddingError::Upstream {
                    provider: inner.provider.clone(),
                    status: code,
                    message,
                }
            };
            return Err(Failure {
                error,
                retryable: RETRY_STATUSES.contains(&code),
                retry_after,
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES)
        {
            let detail = format!("the response body exceeds {MAX_BODY_BYTES} bytes");
            return Err(Failure::fatal(self.malformed(detail)));
        }
        response
            .bytes()
            .await
            .map_err(|e| Failure::fatal(self.transport_error(&e)))
    }

    /// Parses a 2xx body off the async runtime (a batch of 768-dimensional vectors is
    /// megabytes of JSON) and checks the count.
    async fn decode(&self, body: Bytes, expected: usize) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let kind = self.inner.kind;
        let vectors = tokio::task::spawn_blocking(move || parse(kind, &body))
            .await
            .map_err(|e| self.malformed(format!("decoding failed: {e}")))?
            .map_err(|detail| self.malformed(detail))?;
        if vectors.len() != expected {
            return Err(EmbeddingError::CountMismatch {
                provider: self.inner.provider.clone(),
                expected,
                actual: vectors.len(),
            });
        }
        Ok(vectors)
    }

    fn send_failure(&self, error: &reqwest::Error) -> Failure {
        let failure = Failure::fatal(self.transport_error(error));
        Failure {
            // Nothing reached the server, so another attempt is safe.
            retryable: error.is_connect() && !error.is_timeout(),
            ..failure
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> EmbeddingError {
        let inner = &self.inner;
        if error.is_timeout() {
            return EmbeddingError::Timeout {
                provider: inner.provider.clone(),
                after_secs: ceil_secs(inner.timeout),
            };
        }
        let what = if error.is_connect() {
            "cannot connect to"
        } else {
            "connection failed during the request to"
        };
        EmbeddingError::Unreachable {
            provider: inner.provider.clone(),
            detail: format!("{what} {}: {}", inner.shown_url, root_cause(error)),
        }
    }

    fn asked_to_wait(&self, error: EmbeddingError, wait: Duration) -> EmbeddingError {
        match error {
            EmbeddingError::Upstream {
                provider,
                status,
                message,
            } => EmbeddingError::Upstream {
                provider,
                status,
                message: format!(
                    "{message} (asks to retry after {} s, longer than the maximum backoff)",
                    ceil_secs(wait)
                ),
            },
            other => other, // RateLimited carries the wait already
        }
    }

    fn malformed(&self, detail: String) -> EmbeddingError {
        EmbeddingError::Malformed {
            provider: self.inner.provider.clone(),
            detail,
        }
    }

    fn record(&self, error: Option<&EmbeddingError>) {
        let outcome = error.map_or("ok", EmbeddingError::class);
        metrics::counter!(
            "embedding_requests_total",
            "provider" => self.inner.provider.clone(),
            "outcome" => outcome
        )
        .increment(1);
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

/// Whole seconds, rounded up.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The innermost cause of a reqwest error ("Connection refused (os error 111)").
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
