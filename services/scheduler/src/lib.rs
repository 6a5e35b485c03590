//! The scheduler service (SPEC §5): cron (5/6 fields, aliases, IANA time zones with defined
//! DST behaviour), interval and one-shot schedules that run an agent's task through the
//! agents service, and the engine that fires them — exactly once per fire time on any
//! number of replicas, with overlap and misfire policies, retries, timeouts and rescue of
//! executions abandoned by a crashed replica.

pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

pub use config::SchedulerConfig;
pub use domain::engine::Engine;
pub use routes::{openapi, routes};
pub use state::AppState;

use std::sync::Arc;

use clock::{SharedClock, SystemClock};
use temponest_platform::{Descriptor, Plan, StartupError, StopPhase};

/// The name `/health` reports.
pub const NAME: &str = "scheduler";

/// The scheduler service on the system clock: its routes, and the firing engine unless
/// `scheduler.run_engine` is off. The engine calls the agents API, so it stops before the
/// server drains: runs in flight finish (or return to the queue) while that API still answers.
pub fn service(config: SchedulerConfig) -> Plan {
    service_with_clock(config, Arc::new(SystemClock))
}

/// [`service`] reading time from `clock` (tests drive time with a manual one).
pub fn service_with_clock(config: SchedulerConfig, clock: SharedClock) -> Plan {
    Plan::new(NAME, Vec::new(), move |context| async move {
        let state = AppState::build(config, &context, clock)?;
        let mut descriptor = Descriptor::new(routes(state.clone()), state.clone());
        if state.config.scheduler.run_engine {
            descriptor = descriptor.engine(temponest_platform::Engine::new(
                "scheduler",
                StopPhase::BeforeDrain,
                move || Box::pin(domain::engine::start(state).shutdown()),
            ));
        }
        Ok::<_, StartupError>(descriptor)
    })
    .documented(openapi)
}
