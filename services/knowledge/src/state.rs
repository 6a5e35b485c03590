//! Shared state of the knowledge service and how it is built from configuration.

use std::sync::Arc;

use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_platform::{Context, Settings, StartupError};
use temponest_ratelimit::RateLimiter;
use tokio::sync::Notify;

use crate::config::KnowledgeConfig;

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
}

temponest_platform::shared_handles!(AppState);

impl AppState {
    /// Builds the state from the process's shared handles (the engine is started separately:
    /// [`crate::domain::ingest::start`]).
    pub fn build(config: KnowledgeConfig, context: &Context) -> Result<Self, StartupError> {
        config.validate()?;
        Ok(Self {
            pool: context.pool.clone(),
            cache: context.cache.clone(),
            limiter: context.limiter.clone(),
            auth: context.auth()?,
            config: Arc::new(config),
            ingest_wake: Arc::new(Notify::new()),
        })
    }
}
