//! The webhooks service (SPEC §6): endpoints and their signing secrets, the dispatcher that fans
//! transactional-outbox events out to subscribed endpoints, and the sender that delivers them —
//! signed (Standard Webhooks), retried, SSRF-guarded, never lost.

pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

pub use config::WebhooksConfig;
pub use state::{AppState, StartupError};

use axum::Router;

/// The webhooks service's routes (without shared layers).
pub fn routes(state: AppState) -> Router {
    routes::router(state)
}

/// The webhooks service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::openapi()
}
