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

use temponest_platform::{Descriptor, Plan};
use temponest_ratelimit::{Policy, RoutePolicy, Scope};

pub use config::AuthConfig;
pub use routes::{openapi, routes};
pub use state::{AppState, StartupError};

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
            Descriptor::new(routes(state.clone()), state.clone()).authenticating(state.auth),
        )
    })
    .documented(openapi)
    .providing_auth()
}
