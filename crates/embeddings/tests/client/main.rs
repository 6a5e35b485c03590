//! The embedding client against a real local HTTP server speaking both protocols
//! (`temponest_test_client::embeddings`): batching and order, the concurrency limit, retries,
//! response checks and the cache.

mod batching;
mod cache;
mod checks;
mod retries;

use temponest_embeddings::{Embedder, EmbeddingConfig, EmbeddingError, EmbeddingKind, Embeddings};
use temponest_test_client::embeddings::EmbeddingServer;

pub const MODEL: &str = "nomic-embed-text";

/// The process's HTTP client, as services build it (rustls on ring).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Test defaults: millisecond backoff so retries do not slow the suite.
pub fn config(kind: EmbeddingKind, server: &EmbeddingServer) -> EmbeddingConfig {
    let base = match kind {
        EmbeddingKind::OpenAi => server.openai_base_url(),
        EmbeddingKind::Ollama => server.ollama_base_url(),
    };
    EmbeddingConfig {
        backoff_base_ms: 1,
        backoff_max_ms: 2_000,
        ..EmbeddingConfig::new(kind, base)
    }
}

pub fn embedder(config: &EmbeddingConfig) -> Embedder {
    Embedder::new("fake", config, http()).expect("a valid configuration")
}

/// Embeds `input` with [`MODEL`] through a fresh client of `config` (asserts success).
pub async fn embed(config: &EmbeddingConfig, input: Vec<String>) -> Embeddings {
    embedder(config).embed_batch(MODEL, input).await.unwrap()
}

/// The error of embedding `input` with `model` through a fresh client of `config`.
pub async fn embed_error(
    config: &EmbeddingConfig,
    model: &str,
    input: Vec<String>,
) -> EmbeddingError {
    embedder(config)
        .embed_batch(model, input)
        .await
        .unwrap_err()
}

/// `n` distinct texts.
pub fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("chunk {i} about topic {}", i % 3))
        .collect()
}
