//! Every event type the platform publishes, with a description (served by
//! `GET /webhooks/events`). Publishing an event type not listed here is a bug caught by tests.

/// One kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
}

pub const AGENT_CREATED: &str = "agent.created";
pub const AGENT_UPDATED: &str = "agent.updated";
pub const AGENT_DELETED: &str = "agent.deleted";
pub const EXECUTION_STARTED: &str = "agent.execution.started";
pub const EXECUTION_COMPLETED: &str = "agent.execution.completed";
pub const EXECUTION_FAILED: &str = "agent.execution.failed";
pub const SCHEDULE_TRIGGERED: &str = "schedule.triggered";
pub const SCHEDULE_COMPLETED: &str = "schedule.completed";
pub const WEBHOOK_TEST: &str = "webhook.test";
pub const WEBHOOK_ENDPOINT_DISABLED: &str = "webhook.endpoint.disabled";
pub const BUDGET_ALERT: &str = "budget.alert";
pub const COST_THRESHOLD_EXCEEDED: &str = "cost.threshold.exceeded";
pub const COLLABORATION_COMPLETED: &str = "collaboration.completed";
pub const COLLABORATION_FAILED: &str = "collaboration.failed";

/// Namespaces of platform events: an application's own events (`POST /events`) must not use
/// them, so a subscriber can trust that `agent.*` came from the platform.
pub const RESERVED_PREFIXES: &[&str] = &[
    "agent.",
    "schedule.",
    "budget.",
    "cost.",
    "webhook.",
    "collaboration.",
];

/// The catalogue, grouped by service.
pub const EVENT_TYPES: &[EventType] = &[
    EventType {
        name: AGENT_CREATED,
        description: "An agent was created.",
    },
    EventType {
        name: AGENT_UPDATED,
        description: "An agent's configuration changed.",
    },
    EventType {
        name: AGENT_DELETED,
        description: "An agent was deleted.",
    },
    EventType {
        name: EXECUTION_STARTED,
        description: "An agent execution started running.",
    },
    EventType {
        name: EXECUTION_COMPLETED,
        description: "An agent execution completed with a response.",
    },
    EventType {
        name: EXECUTION_FAILED,
        description: "An agent execution failed, was cancelled or was abandoned (see `outcome`).",
    },
    EventType {
        name: BUDGET_ALERT,
        description: "Spending crossed a budget's alert threshold (once per budget and UTC day or month).",
    },
    EventType {
        name: COST_THRESHOLD_EXCEEDED,
        description: "Spending reached a budget's limit (once per budget and UTC day or month); further model calls are refused.",
    },
    EventType {
        name: COLLABORATION_COMPLETED,
        description: "A multi-agent collaboration session completed (see `outcome`: completed, converged or max_iterations).",
    },
    EventType {
        name: COLLABORATION_FAILED,
        description: "A multi-agent collaboration session failed or was cancelled (see `outcome` and `error`).",
    },
    EventType {
        name: SCHEDULE_TRIGGERED,
        description: "A schedule fired (or was triggered by hand): an execution was queued.",
    },
    EventType {
        name: SCHEDULE_COMPLETED,
        description: "A schedule execution finished, completed or failed (see `status` and `outcome`).",
    },
    EventType {
        name: WEBHOOK_TEST,
        description: "A test message sent with `POST /webhooks/{id}/test`.",
    },
    EventType {
        name: WEBHOOK_ENDPOINT_DISABLED,
        description: "The service disabled a webhook endpoint (410 Gone, or failing for too long).",
    },
];

/// Whether `name` lies in a platform namespace (see [`RESERVED_PREFIXES`]).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether `name` is a known event type.
pub fn is_known(name: &str) -> bool {
    EVENT_TYPES.iter().any(|e| e.name == name)
}
