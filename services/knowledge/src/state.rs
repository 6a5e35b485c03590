//! Shared state of the knowledge service and how it is built from configuration.

use std::sync::Arc;

use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_platform::{Context, Settings, StartupError};
use temponest_ratelimit::RateLimiter;
use tokio::sync::Notify;

use crate::config::KnowledgeConfig;
use crate::domain::vectors::VectorIndexes;
use temponest_embeddings::Embedder;

/// Everything handlers and the ingestion engine need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub auth: AuthClient,
    pub config: Arc<KnowledgeConfig>,
    /// Wakes this process's ingestion engine when a document is uploaded here (other
    /// processes' engines hear the upload's Postgres notification).
    pub ingest_wake: Arc<Notify>,
    /// The embedding provider of the semantic leg; `None`: lexical retrieval only.
    pub embedder: Option<Embedder>,
    /// This process's vector indexes (used only with an embedder).
    pub vectors: VectorIndexes,
}

temponest_platform::shared_handles!(AppState);

impl AppState {
    /// Builds the state from the process's shared handles (the engine is started separately:
    /// [`crate::domain::ingest::start`]).
    pub fn build(config: KnowledgeConfig, context: &Context) -> Result<Self, StartupError> {
        config.validate()?;
        let embedder = match &config.knowledge.embedding {
            Some(embedding) => {
                let http = reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(10))
                    .build()
                    .map_err(|e| StartupError::config(format!("HTTP client: {e}")))?;
                let embedder =
                    Embedder::new(embedding.kind.as_str(), embedding, http).map_err(|e| {
                        StartupError::config(format!("TEMPONEST_KNOWLEDGE__EMBEDDING: {e}"))
                    })?;
                tracing::info!(embedder = ?embedder, "knowledge semantic leg on");
                Some(embedder)
            }
            None => None,
        };
        let vectors = VectorIndexes::new(
            context.pool.clone(),
            config.knowledge.vector_cache_max_bytes,
            std::time::Duration::from_secs(config.knowledge.vector_idle_secs),
            config.knowledge.vector_graph_threshold,
        );
        Ok(Self {
            pool: context.pool.clone(),
            cache: context.cache.clone(),
            limiter: context.limiter.clone(),
            auth: context.auth()?,
            config: Arc::new(config),
            ingest_wake: Arc::new(Notify::new()),
            embedder,
            vectors,
        })
    }
}
