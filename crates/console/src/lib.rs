//! The operator console: the platform in a browser, served by the platform itself under
//! `/console` (see `docs/console.md`).
//!
//! A backend-for-frontend: pages are rendered on the server (askama templates, charts as
//! SVG) from the platform's own public HTTP API, called with the signed-in user's token, so
//! tenant isolation and roles are the API's. The browser holds only a sealed, `HttpOnly`,
//! `SameSite=Strict` cookie ([`session`]); forms carry a per-session CSRF token; every
//! response has a strict Content-Security-Policy ([`web`]). Assets are embedded
//! ([`assets`]).
//!
//! [`service`] is the console as the kit composes it, next to the services.

pub mod api;
pub mod assets;
pub mod charts;
pub mod config;
pub mod error;
pub mod pages;
pub mod session;
pub mod sse;
pub mod web;
pub mod zone;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use temponest_platform::{Context, Descriptor, Plan};

pub use config::ConsoleConfig;
pub use web::ConsoleState;

/// The console cannot start (its configuration is unusable).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleStartError {
    #[error("TEMPONEST_CONSOLE_COOKIE_KEY: {0}")]
    CookieKey(#[from] temponest_sealing::KeyError),
    #[error("the console's HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The console's routes, every one under `/console`, with its layer (session cookie,
/// security headers).
pub fn routes(state: ConsoleState) -> Router {
    Router::new()
        .merge(pages::auth::routes())
        .merge(pages::overview::routes())
        .merge(pages::agents::routes())
        .merge(pages::executions::routes())
        .merge(pages::execution_list::routes())
        .merge(pages::schedules::routes())
        .merge(pages::webhooks::routes())
        .merge(pages::costs::routes())
        .merge(pages::access::routes())
        .route("/console/assets/{name}", get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::console_layer,
        ))
        .with_state(state)
}

/// The console as a service of the kit: no database of its own, no API document.
pub fn service(config: ConsoleConfig) -> Plan {
    Plan::new("console", Vec::new(), move |_context: Context| async move {
        let api = api::ApiClient::new(
            &config.api_url,
            Duration::from_secs(config.api_timeout_secs),
        )?;
        let jar = session::CookieJar::new(
            config.cookie_key.expose(),
            config.secure_cookies,
            config.session_ttl_secs,
        )?;
        let state = ConsoleState::new(api, jar);
        Ok::<_, ConsoleStartError>(Descriptor::new(routes(state.clone()), state))
    })
}
