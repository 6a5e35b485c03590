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

use temponest_auth_client::AuthClient;
use temponest_ratelimit::RoutePolicy;
use temponest_web::bootstrap::InfraSettings;
use temponest_web::health::Health;

pub use domain::engine::Engine;

/// Rate-limit policies of the webhooks routes on top of the global defaults (none yet).
pub fn rate_limit_routes(_config: &WebhooksConfig) -> Vec<RoutePolicy> {
    Vec::new()
}

/// The complete single-service app: routes, health, metrics, docs and every shared layer.
pub fn app(state: AppState, health: &Health) -> Router {
    let server = state.config.server.clone();
    let idempotency = temponest_idempotency::Idempotency::new(state.pool.clone())
        .trusting_forwarded_for(state.limiter.config().trust_forwarded_for);
    let router = temponest_idempotency::layer(routes(state.clone()), idempotency)
        .merge(health.router())
        .merge(temponest_web::docs::router(openapi()));
    let router = temponest_auth_client::protect(router, state.auth.clone(), state.limiter.clone());
    temponest_web::server::with_route_layers(router, &server)
}

/// Connects everything from configuration (authenticating callers through the auth service at
/// `auth_url`), starts the delivery engine and returns the app, its server settings and the
/// engine (shut it down after the server has drained).
pub async fn launch(
    config: WebhooksConfig,
    pool_name: &str,
    services: &[&str],
) -> Result<(Router, temponest_web::ServerConfig, Engine), StartupError> {
    let infra = temponest_web::bootstrap::infrastructure(InfraSettings {
        pool_name,
        services,
        database_url: &config.database_url,
        redis_url: config.redis(),
        key_prefix: &config.redis_key_prefix,
        routes: rate_limit_routes(&config),
    })
    .await?;
    temponest_idempotency::Idempotency::new(infra.pool.clone()).spawn_cleanup();
    let auth = AuthClient::remote(&config.auth_url, infra.cache.clone())
        .map_err(|e| StartupError::Config(e.to_string()))?;
    let state = AppState::build(config, infra.pool, infra.cache, infra.limiter, auth)?;
    let server = state.config.server.clone();
    let engine = domain::engine::start(state.clone());
    Ok((app(state, &infra.health), server, engine))
}
