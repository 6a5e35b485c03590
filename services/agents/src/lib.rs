//! The agents service (SPEC §4): agents, executions on LLM providers (synchronous and
//! streamed, resumable, cancellable), the tool loop, cost records and the events it publishes
//! through the transactional outbox.
//!
//! [`service`] is the service as the kit composes it (`docs/architecture.md`).

pub mod access;
pub mod config;
pub mod db;
pub mod domain;
pub mod models;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::Router;
use axum::routing::MethodRouter;
use temponest_platform::{Descriptor, Engine, Plan, StartupError, StopPhase};
use temponest_web::docs::BearerAuth;
use utoipa::OpenApi;

pub use config::AgentsConfig;
pub use domain::runs::Runs;
pub use state::AppState;

/// Routes that wait on long work and get the long request timeout.
pub const LONG_ROUTES: &[&str] = &["/agents/{id}/execute", "/collaboration/execute"];

/// Writes the router and the OpenAPI document from one table of routes (each with the method
/// and handler of every operation on it, per routes module), so that every route served is
/// documented and every documented operation served.
macro_rules! api {
    ($($module:ident { $($path:literal => $($method:ident($handler:ident)),+;)+ })+) => {
        /// The agents service's routes (without shared layers).
        pub fn routes(state: AppState) -> Router {
            Router::new()
                $($(.route($path, MethodRouter::new()$(.$method(routes::$module::$handler))+))+)+
                .with_state(state)
        }

        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "TempoNest agents",
                description = "Agents, executions, LLM providers, tools, cost records, the dashboard and multi-agent collaboration sessions."
            ),
            paths($($($(routes::$module::$handler),+),+),+),
            components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
            modifiers(&BearerAuth),
        )]
        struct ApiDoc;
    };
}

api! {
    agents {
        "/agents" => post(create), get(list);
        "/agents/{id}" => get(get), patch(update), delete(delete);
    }
    executions {
        "/agents/{id}/execute" => post(execute);
        "/executions" => get(list);
        "/executions/events" => get(changes);
        "/executions/{id}" => get(get);
        "/executions/{id}/cancel" => post(cancel);
        "/executions/{id}/stream" => get(stream);
    }
    prices {
        "/costs/prices" => get(list), put(set), delete(delete);
    }
    budgets {
        "/costs/budget" => post(set), get(get);
        "/costs/budget/status" => get(status);
    }
    costs {
        "/costs/summary" => get(summary);
        "/costs/daily" => get(daily);
        "/costs/hourly" => get(hourly);
        "/costs/by-agent" => get(by_agent);
        "/costs/by-provider" => get(by_provider);
        "/costs/by-model" => get(by_model);
        "/costs/forecast" => get(forecast);
    }
    cost_export {
        "/costs/export" => get(export);
    }
    dashboard {
        "/dashboard/metrics" => get(metrics);
    }
    collaboration {
        "/collaboration/execute" => post(execute);
        "/collaboration/sessions" => get(list);
        "/collaboration/sessions/{id}" => get(get);
        "/collaboration/sessions/{id}/cancel" => post(cancel);
        "/collaboration/sessions/{id}/stream" => get(stream);
    }
}

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
