//! Embedding clients for the knowledge service's semantic leg: OpenAI-compatible
//! `POST {base}/embeddings` and Ollama `POST {base}/api/embed`, both
//! `{"model", "input": [texts]}`.
//!
//! [`Embedder::embed_batch`] splits texts into batches ([`EmbeddingConfig::batch_size`]),
//! runs them with a per-client concurrency limit, retries transient failures with backoff
//! (honouring `Retry-After`, through `temponest-retry`), checks that every text got exactly
//! one vector and that all vectors have one dimension count, and caches vectors by
//! `sha256(model, text)` in a byte-bounded moka cache. Results carry an
//! [`EmbeddingIdentity`] (`provider/model@dims`) to stamp on stored vectors.
//!
//! The HTTP client is the caller's (`reqwest` with rustls on ring, as everywhere in the
//! platform; install the ring provider once at start-up), so embeddings share the process's
//! connection pool; timeouts are per request.
//!
//! Metrics: `embedding_requests_total{provider, outcome}` (`ok` or the error class, one per
//! batch), `embedding_cache_hits_total{provider}`, `embedding_cache_misses_total{provider}`.

mod cache;
mod client;
mod config;
mod error;
mod identity;
mod wire;

pub use cache::CacheStats;
pub use client::{Embedder, Embeddings};
pub use config::{EmbeddingConfig, EmbeddingKind};
pub use error::EmbeddingError;
pub use identity::{EmbeddingIdentity, InvalidIdentity};
