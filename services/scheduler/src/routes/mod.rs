//! HTTP handlers, one module per resource, and the table of the service's routes.

pub mod executions;
pub mod schedules;

use crate::state::AppState;

temponest_platform::api_table! {
    service: "scheduler",
    state: AppState,
    title: "TempoNest scheduler",
    description: "Cron, interval and one-shot schedules that run agents: exactly once per fire time, on any number of replicas.",
    schedules {
        "/schedules" => post(create), get(list);
        "/schedules/{id}" => get(get), patch(update), delete(delete);
        "/schedules/{id}/trigger" => post(trigger);
        "/schedules/{id}/pause" => post(pause);
        "/schedules/{id}/resume" => post(resume);
    }
    executions {
        "/schedules/{id}/executions" => get(list);
        "/schedules/{id}/executions/{execution_id}" => get(get);
        "/schedules/{id}/fires" => get(fires);
    }
}
