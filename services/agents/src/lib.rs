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

use axum::Router;
use axum::routing::{get, post};
use temponest_platform::{Descriptor, Engine, Plan, StartupError, StopPhase};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

pub use config::AgentsConfig;
pub use domain::runs::Runs;
pub use state::AppState;

use routes::{agents, budgets, collaboration, cost_export, costs, dashboard, executions, prices};

/// Routes that wait on long work and get the long request timeout.
pub const LONG_ROUTES: &[&str] = &["/agents/{id}/execute", "/collaboration/execute"];

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
        .route("/costs/budget", post(budgets::set).get(budgets::get))
        .route("/costs/budget/status", get(budgets::status))
        .route("/costs/summary", get(costs::summary))
        .route("/costs/daily", get(costs::daily))
        .route("/costs/hourly", get(costs::hourly))
        .route("/costs/by-agent", get(costs::by_agent))
        .route("/costs/by-provider", get(costs::by_provider))
        .route("/costs/by-model", get(costs::by_model))
        .route("/costs/forecast", get(costs::forecast))
        .route("/costs/export", get(cost_export::export))
        .route("/dashboard/metrics", get(dashboard::metrics))
        .route("/collaboration/execute", post(collaboration::execute))
        .route("/collaboration/sessions", get(collaboration::list))
        .route("/collaboration/sessions/{id}", get(collaboration::get))
        .route(
            "/collaboration/sessions/{id}/cancel",
            post(collaboration::cancel),
        )
        .route(
            "/collaboration/sessions/{id}/stream",
            get(collaboration::stream),
        )
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TempoNest agents",
        description = "Agents, executions, LLM providers, tools, cost records, the dashboard and multi-agent collaboration sessions."
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
        budgets::set,
        budgets::get,
        budgets::status,
        costs::summary,
        costs::daily,
        costs::hourly,
        costs::by_agent,
        costs::by_provider,
        costs::by_model,
        costs::forecast,
        cost_export::export,
        dashboard::metrics,
        collaboration::execute,
        collaboration::list,
        collaboration::get,
        collaboration::cancel,
        collaboration::stream,
    ),
    components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The agents service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

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
            Descriptor::new(routes(state.clone()), openapi(), state)
                .long_routes(LONG_ROUTES)
                .engine(sessions)
                .engine(interrupt),
        )
    })
}
