//! Knowledge service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_KNOWLEDGE__<FIELD>`; see
//! [`temponest_platform::config`]). Where Postgres and Redis are is the platform's.

use serde::{Deserialize, Serialize};
use temponest_platform::{ConfigError, Settings};

/// Everything the knowledge service can be tuned with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KnowledgeConfig {
    pub knowledge: IngestConfig,
}

/// Uploads and the ingestion engine.
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
        }
    }
}

impl Settings for KnowledgeConfig {
    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.knowledge;
        let checks: [(bool, &str); 6] = [
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
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(ConfigError::invalid(message)),
            None => Ok(()),
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
}
