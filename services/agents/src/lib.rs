//! The agents service (SPEC §4): agents, executions on LLM providers (synchronous and
//! streamed, resumable, cancellable), the tool loop, cost records and the events it publishes
//! through the transactional outbox.
//!
//! [`launch`] connects everything from configuration, [`app`] builds the complete router;
//! `main`, the all-in-one binary and the tests all go through them.

pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

use axum::Router;
use axum::routing::{get, post};
use temponest_auth_client::AuthClient;
use temponest_ratelimit::RoutePolicy;
use temponest_web::bootstrap::InfraSettings;
use temponest_web::docs::BearerAuth;
use temponest_web::health::Health;
use utoipa::OpenApi;

pub use config::AgentsConfig;
pub use domain::runs::Runs;
pub use state::{AppState, StartupError};

use routes::{agents, executions, prices};

/// Routes that wait on long work and get the long request timeout.
pub const LONG_ROUTES: &[&str] = &["/agents/{id}/execute"];

/// The agents service's routes (without shared layers).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/agents", post(agents::create).get(agents::list))
        .route(
            "/agents/{id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route("/agents/{id}/execute", post(executions::execute))
        .route("/executions", get(executions::list))
        .route("/executions/{id}", get(executions::get))
        .route("/executions/{id}/cancel", post(executions::cancel))
        .route("/executions/{id}/stream", get(executions::stream))
        .route(
            "/costs/prices",
            get(prices::list).put(prices::set).delete(prices::delete),
        )
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TempoNest agents",
        description = "Agents, executions, LLM providers, tools and cost records."
    ),
    paths(
        agents::create,
        agents::list,
        agents::get,
        agents::update,
        agents::delete,
        executions::execute,
        executions::get,
        executions::list,
        executions::cancel,
        executions::stream,
        prices::list,
        prices::set,
        prices::delete,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The agents service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Rate-limit policies of the agents routes on top of the global defaults (none yet: the
/// per-client defaults apply).
pub fn rate_limit_routes(_config: &AgentsConfig) -> Vec<RoutePolicy> {
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
    temponest_web::server::with_route_layers_and_long(router, &server, LONG_ROUTES)
}

/// Connects everything from configuration (authenticating callers through the auth service at
/// `auth_url`) and returns the complete app, its server settings and the executions registry
/// (interrupt it after the server has drained: [`Runs::interrupt_all`]).
pub async fn launch(
    config: AgentsConfig,
    pool_name: &str,
    services: &[&str],
) -> Result<(Router, temponest_web::ServerConfig, Runs), StartupError> {
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
    let runs = state.runs.clone();
    Ok((app(state, &infra.health), server, runs))
}
