//! Knowledge service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_KNOWLEDGE__<FIELD>`; see
//! [`temponest_platform::config`]). Where Postgres and Redis are is the platform's.
//!
//! The semantic leg is off unless an embedding provider is configured
//! (`TEMPONEST_KNOWLEDGE__EMBEDDING__KIND`, `…__BASE_URL`, `…__API_KEY`, …: the fields of
//! [`EmbeddingConfig`]); without one, retrieval is lexical only.

use serde::{Deserialize, Serialize};
use temponest_embeddings::EmbeddingConfig;
use temponest_platform::{ConfigError, Settings};

/// Everything the knowledge service can be tuned with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KnowledgeConfig {
    pub knowledge: IngestConfig,
}

/// Uploads, the ingestion engine and the semantic leg.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// Largest document accepted, in bytes (larger uploads are answered 413). The upload
    /// route's body limit is this plus room for the multipart envelope; the rest of the API
    /// keeps the server's `body_limit_bytes`.
    pub max_upload_bytes: usize,
    /// Run the ingestion engine in this process.
    pub run_engine: bool,
    /// Documents parsed and chunked at once by one engine (CPU work on the blocking pool).
    pub concurrency: usize,
    /// An engine holds a claimed document this long; if it dies, another engine takes the
    /// document over afterwards.
    pub lease_secs: u64,
    /// Claims of one document before it is marked failed (a document whose ingestion keeps
    /// killing or stalling its engine).
    pub max_attempts: i32,
    /// How often the engine looks for work when no upload woke it.
    pub poll_interval_ms: u64,
    /// A document that yields more chunks than this is marked failed.
    pub max_chunks_per_document: usize,
    /// A document whose ingestion failed transiently (the database, the embedding provider)
    /// is retried after this many milliseconds times its attempt number.
    pub retry_delay_ms: u64,
    /// The embedding provider of the semantic leg; `None` (the default): lexical only. Its
    /// `api_key` is redacted in `Debug`.
    pub embedding: Option<EmbeddingConfig>,
    /// Memory for in-process vector indexes, in bytes (vectors and graph, estimated); the
    /// least recently used collections are evicted beyond it.
    pub vector_cache_max_bytes: u64,
    /// A collection's vector index unused this long is dropped (reloaded on its next query).
    pub vector_idle_secs: u64,
    /// Collections with at least this many vectors are searched through an HNSW graph, fewer
    /// by an exact scan. An index is rebuilt after every change to its collection, and a
    /// graph build costs minutes at 100k vectors (docs/performance.md) while an exact scan
    /// of 100k × 768 takes ~22 ms, so the default keeps every collection up to 200k exact.
    pub vector_graph_threshold: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 25 * 1024 * 1024,
            run_engine: true,
            concurrency: 2,
            lease_secs: 300,
            max_attempts: 3,
            poll_interval_ms: 1000,
            max_chunks_per_document: 100_000,
            retry_delay_ms: 5_000,
            embedding: None,
            vector_cache_max_bytes: 256 << 20,
            vector_idle_secs: 1_800,
            vector_graph_threshold: 200_000,
        }
    }
}

impl Settings for KnowledgeConfig {
    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.knowledge;
        let checks: [(bool, &str); 8] = [
            (
                k.max_upload_bytes >= 1024,
                "TEMPONEST_KNOWLEDGE__MAX_UPLOAD_BYTES must be at least 1024",
            ),
            (
                k.concurrency >= 1,
                "TEMPONEST_KNOWLEDGE__CONCURRENCY must be at least 1",
            ),
            (
                k.lease_secs >= 1,
                "TEMPONEST_KNOWLEDGE__LEASE_SECS must be at least 1",
            ),
            (
                k.max_attempts >= 1,
                "TEMPONEST_KNOWLEDGE__MAX_ATTEMPTS must be at least 1",
            ),
            (
                k.poll_interval_ms >= 10,
                "TEMPONEST_KNOWLEDGE__POLL_INTERVAL_MS must be at least 10",
            ),
            (
                k.max_chunks_per_document >= 1,
                "TEMPONEST_KNOWLEDGE__MAX_CHUNKS_PER_DOCUMENT must be at least 1",
            ),
            (
                k.vector_cache_max_bytes >= 1 << 20,
                "TEMPONEST_KNOWLEDGE__VECTOR_CACHE_MAX_BYTES must be at least 1048576",
            ),
            (
                k.vector_idle_secs >= 1,
                "TEMPONEST_KNOWLEDGE__VECTOR_IDLE_SECS must be at least 1",
            ),
        ];
        if let Some((_, message)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(ConfigError::invalid(message));
        }
        match k.embedding.as_ref().map(EmbeddingConfig::validate) {
            Some(Err(temponest_embeddings::EmbeddingError::InvalidConfig { field, reason })) => {
                Err(ConfigError::invalid(format!(
                    "TEMPONEST_KNOWLEDGE__EMBEDDING__{} {reason}",
                    field.to_uppercase()
                )))
            }
            Some(Err(other)) => Err(ConfigError::invalid(other.to_string())),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_bad_setting_is_named() {
        KnowledgeConfig::default().validate().unwrap();
        let mut config = KnowledgeConfig::default();
        config.knowledge.concurrency = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_KNOWLEDGE__CONCURRENCY"), "{err}");
    }

    #[test]
    fn no_provider_by_default_and_one_from_the_layers_with_its_defaults() {
        let layers = temponest_platform::Layers::none();
        let config: KnowledgeConfig = layers.settings().unwrap();
        assert!(config.knowledge.embedding.is_none());
        let layers = layers.with_toml(
            "[knowledge.embedding]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"",
        );
        let config: KnowledgeConfig = layers.settings().unwrap();
        let embedding = config.knowledge.embedding.unwrap();
        assert_eq!(embedding.kind, temponest_embeddings::EmbeddingKind::OpenAi);
        assert_eq!(embedding.batch_size, 64);
    }

    #[test]
    fn a_bad_embedding_setting_is_named_and_the_key_never_printed() {
        let mut config = KnowledgeConfig::default();
        config.knowledge.embedding = Some(EmbeddingConfig {
            batch_size: 0,
            api_key: Some("sk-secret-embedding-key".into()),
            ..EmbeddingConfig::default()
        });
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("TEMPONEST_KNOWLEDGE__EMBEDDING__BATCH_SIZE"),
            "{err}"
        );
        assert!(!format!("{config:?}").contains("sk-secret-embedding-key"));
    }
}
