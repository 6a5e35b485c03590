//! The auth service: tenants, users and roles, sessions with rotating refresh tokens, API
//! keys, EdDSA signing keys published as JWKS, introspection for other services, brute-force
//! protection and the audit log (SPEC §3).
//!
//! [`service`] is the service as the kit composes it (`docs/architecture.md`).

pub mod admin;
pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod resolver;
pub mod routes;
pub mod state;

use axum::Router;
use axum::routing::{get, post};
use temponest_platform::{Descriptor, Plan};
use temponest_ratelimit::{Policy, RoutePolicy, Scope};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

pub use config::AuthConfig;
pub use state::{AppState, StartupError};

use routes::{api_keys, auth, jwks, service_tokens, session, users};

/// The auth service's routes (without shared layers).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(session::login))
        .route("/auth/refresh", post(session::refresh))
        .route("/auth/logout", post(session::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/introspect", post(auth::introspect))
        .route("/auth/service-token", post(service_tokens::issue))
        .route("/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/api-keys/{id}", axum::routing::delete(api_keys::revoke))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/tenants/current", get(users::current_tenant))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "TempoNest auth", description = "Tenants, users, sessions, API keys and signing keys."),
    paths(
        auth::register, session::login, session::refresh, session::logout, auth::me, auth::introspect,
        service_tokens::issue,
        api_keys::create, api_keys::list, api_keys::revoke,
        users::list, users::create, users::get, users::update, users::current_tenant,
        jwks::jwks,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The auth service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Rate-limit policies of the auth routes on top of the global defaults.
pub fn rate_limit_routes(config: &AuthConfig) -> Vec<RoutePolicy> {
    vec![
        RoutePolicy {
            method: Some(axum::http::Method::POST),
            route: "/auth/register".into(),
            scope: Scope::Ip,
            policies: vec![Policy::per_hour(config.register_per_hour)],
        },
        // Services introspect API keys on cache misses; keep them well clear of the
        // per-client defaults.
        RoutePolicy {
            method: Some(axum::http::Method::POST),
            route: "/auth/introspect".into(),
            scope: Scope::Ip,
            policies: vec![Policy::per_minute(60_000)],
        },
        // A scheduler asks for one token per active tenant every few minutes from one
        // address; secrets are long enough that guessing them is hopeless at any rate.
        RoutePolicy {
            method: Some(axum::http::Method::POST),
            route: "/auth/service-token".into(),
            scope: Scope::Ip,
            policies: vec![Policy::per_minute(6_000)],
        },
    ]
}

/// The name `/health` reports.
pub const NAME: &str = "auth";

/// The auth service. It authenticates callers for every service of its process (in process,
/// with the same verifier and API-key resolver), so it comes first in a kit.
pub fn service(config: AuthConfig) -> Plan {
    let rate_limits = rate_limit_routes(&config);
    Plan::new(NAME, rate_limits, move |context| async move {
        let state = AppState::build(config, &context).await?;
        Ok::<_, StartupError>(
            Descriptor::new(routes(state.clone()), openapi(), state.clone())
                .authenticating(state.auth),
        )
    })
    .providing_auth()
}
