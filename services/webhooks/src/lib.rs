//! The webhooks service (SPEC §6): endpoints and their signing secrets, the dispatcher that fans
//! transactional-outbox events out to subscribed endpoints, and the sender that delivers them —
//! signed (Standard Webhooks), retried, SSRF-guarded, never lost.
//!
//! [`service`] is the service as the kit composes it (`docs/architecture.md`).

pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

pub use config::WebhooksConfig;
pub use domain::engine::Engine;
pub use routes::{openapi, routes};
pub use state::AppState;

use temponest_platform::{Descriptor, Plan, StopPhase};

/// The name `/health` reports.
pub const NAME: &str = "webhooks";

/// The webhooks service: its routes, and the delivery engine (dispatcher and sender) unless
/// `webhooks.run_engine` is off. The engine stops after requests have drained, finishing or
/// releasing the attempts in flight.
pub fn service(config: WebhooksConfig) -> Plan {
    Plan::new(NAME, Vec::new(), move |context| async move {
        let state = AppState::build(config, &context)?;
        let mut descriptor = Descriptor::new(routes(state.clone()), state.clone());
        if state.config.webhooks.run_engine {
            descriptor = descriptor.engine(temponest_platform::Engine::new(
                "webhook delivery",
                StopPhase::AfterDrain,
                move || Box::pin(domain::engine::start(state).shutdown()),
            ));
        }
        Ok::<_, temponest_platform::StartupError>(descriptor)
    })
    .documented(openapi)
}
