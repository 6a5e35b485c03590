//! HTTP handlers, one module per resource.

pub mod agents;
pub mod budgets;
pub mod collaboration;
pub mod cost_export;
pub mod costs;
pub mod dashboard;
pub mod executions;
pub mod prices;
mod sse;

temponest_platform::api_table! {
    service: "agents",
    state: crate::state::AppState,
    title: "TempoNest agents",
    description: "Agents, executions, LLM providers, tools, cost records, the dashboard and multi-agent collaboration sessions.",
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
