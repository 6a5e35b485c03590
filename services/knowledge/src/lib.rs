//! The knowledge service (SPEC §4 "Knowledge (RAG)"): collections, documents uploaded as
//! text, Markdown, HTML, PDF or JSON, their ingestion (extraction and chunking off the request
//! path, crash-safe, embedded when a provider is configured) and retrieval: Postgres
//! full-text search, fused with in-process vector search when an embedding provider is
//! configured, cached per collection version.
//!
//! [`service`] is the service as the kit composes it (`docs/architecture.md`).

pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

pub use config::KnowledgeConfig;
pub use state::AppState;

use temponest_platform::{Descriptor, Plan, StopPhase};

/// The knowledge service's routes (without shared layers).
pub fn routes(state: AppState) -> axum::Router {
    routes::router(state)
}

/// The knowledge service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::openapi()
}

/// The name `/health` reports.
pub const NAME: &str = "knowledge";

/// The knowledge service: its routes, the ingestion engine unless `knowledge.run_engine` is
/// off, and with an embedding provider the listener that drops vector indexes of changed
/// collections. The engine stops after requests have drained, finishing the documents in
/// hand (a document it cannot finish is taken over by the next claim once its lease
/// expires).
pub fn service(config: KnowledgeConfig) -> Plan {
    Plan::new(NAME, Vec::new(), move |context| async move {
        let state = AppState::build(config, &context)?;
        let mut descriptor = Descriptor::new(routes(state.clone()), state.clone());
        if state.config.knowledge.run_engine {
            let state = state.clone();
            descriptor = descriptor.engine(temponest_platform::Engine::new(
                "knowledge ingestion",
                StopPhase::AfterDrain,
                move || Box::pin(domain::ingest::start(state).shutdown()),
            ));
        }
        if state.embedder.is_some() {
            let vectors = state.vectors.clone();
            descriptor = descriptor.engine(temponest_platform::Engine::new(
                "knowledge vector indexes",
                StopPhase::AfterDrain,
                move || {
                    let stop = tokio_util::sync::CancellationToken::new();
                    domain::vectors::start_listener(vectors, stop.clone());
                    Box::pin(async move { stop.cancel() })
                },
            ));
        }
        Ok::<_, temponest_platform::StartupError>(descriptor)
    })
    .documented(openapi)
}
