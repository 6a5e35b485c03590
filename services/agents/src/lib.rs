//! The agents service (SPEC §4): agents, executions on LLM providers (synchronous and
//! streamed, resumable, cancellable), the tool loop, cost records and the events it publishes
//! through the transactional outbox.
//!
//! [`service`] is the service as the kit composes it (`docs/architecture.md`).

pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

use std::time::Duration;

use temponest_platform::{Descriptor, Engine, Plan, StartupError, StopPhase};

pub use config::AgentsConfig;
pub use domain::runs::Runs;
pub use routes::{openapi, routes};
pub use state::AppState;

/// Routes that wait on long work and get the long request timeout.
pub const LONG_ROUTES: &[&str] = &["/agents/{id}/execute", "/collaboration/execute"];

/// The name `/health` reports.
pub const NAME: &str = "agents";

/// The agents service: its routes (the synchronous execution with the long request
/// timeout) and, as an engine stopped after requests have drained, the interruption of the
/// executions still running (their requests and streams then finish, recorded as
/// `interrupted` with what they had used); before it, the collaboration engine, which
/// resumes free sessions while the process runs and, at shutdown, stops starting steps,
/// interrupts the running ones and releases its sessions for any process to resume.
pub fn service(config: AgentsConfig) -> Plan {
    Plan::new(NAME, Vec::new(), move |context| async move {
        let state = AppState::build(config, &context)?;
        let runs = state.runs.clone();
        let driver = state.clone();
        let sessions = Engine::new("collaboration sessions", StopPhase::AfterDrain, move || {
            let stop = tokio_util::sync::CancellationToken::new();
            tokio::spawn(domain::collaboration::engine::resume_free_sessions(
                driver.clone(),
                stop.clone(),
            ));
            Box::pin(async move {
                stop.cancel();
                let left = driver.sessions.stop(&driver, Duration::from_secs(10)).await;
                if left > 0 {
                    tracing::warn!(
                        left,
                        "collaboration sessions still running at exit; the dead-instance reaper will free them"
                    );
                }
            })
        });
        let interrupt = Engine::new("execution interrupt", StopPhase::AfterDrain, move || {
            Box::pin(async move {
                let left = runs.interrupt_all(Duration::from_secs(10)).await;
                if left > 0 {
                    tracing::warn!(
                        left,
                        "executions still running at exit; another process's sweep will fail them"
                    );
                }
            })
        });
        Ok::<_, StartupError>(
            Descriptor::new(routes(state.clone()), state)
                .long_routes(LONG_ROUTES)
                .engine(sessions)
                .engine(interrupt),
        )
    })
    .documented(openapi)
}
