//! The states of an execution and of a fire time, as types. They are stored as their names
//! (`text` columns; status, trigger and skip reason under check constraints) and the API shows
//! the same names.

use serde::{Deserialize, Serialize};

use temponest_db::named;

/// Where an execution is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Queued (or waiting for a retry).
    Pending,
    /// Leased by an engine and running.
    Running,
    Completed,
    Failed,
}

named!(ExecutionStatus, "status", Pending => "pending", Running => "running", Completed => "completed", Failed => "failed");

/// The finer result of a finished execution (or of one attempt), next to its status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExecutionOutcome {
    Completed,
    Failed,
    /// The run exceeded the schedule's `timeout_seconds` (or the agent's own limit).
    TimedOut,
    /// Queued when its schedule was deleted.
    Cancelled,
    /// Its engine stopped (lease expired) with no attempts left.
    Abandoned,
    /// The agent no longer exists in the tenant.
    AgentNotFound,
    /// The agents service refused the run's model call: it could exceed a budget (not
    /// retried).
    BudgetExceeded,
}

named!(ExecutionOutcome, "outcome",
    Completed => "completed", Failed => "failed", TimedOut => "timed_out",
    Cancelled => "cancelled", Abandoned => "abandoned", AgentNotFound => "agent_not_found",
    BudgetExceeded => "budget_exceeded");

/// What queued an execution.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExecutionTrigger {
    /// A fire time of the schedule.
    Schedule,
    /// `POST /schedules/{id}/trigger`.
    Manual,
}

named!(ExecutionTrigger, "trigger", Schedule => "schedule", Manual => "manual");

/// Why a fire time did not run (`scheduler.skipped_fires.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Skipped by the overlap policy.
    Overlap,
    /// Missed while no scheduler ran (misfire policy).
    Missed,
}

named!(SkipReason, "reason", Overlap => "overlap", Missed => "missed");

/// What became of a fire time, in the fire history.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum FireDisposition {
    /// An execution ran or is running for it.
    Executed,
    /// Skipped by the overlap policy.
    Skipped,
    /// Missed during downtime (misfire policy).
    Missed,
}

named!(FireDisposition, "disposition", Executed => "executed", Skipped => "skipped", Missed => "missed");

#[cfg(test)]
mod tests {
    use super::*;
    use temponest_db::names::Named;

    fn round_trips<N: Named + Serialize + std::fmt::Debug + PartialEq>() {
        for value in N::ALL {
            assert_eq!(N::parse_name(value.name()), Ok(*value));
            assert_eq!(serde_json::to_value(value).unwrap(), value.name());
        }
    }

    #[test]
    fn states_keep_the_names_clients_and_the_database_know() {
        round_trips::<ExecutionStatus>();
        round_trips::<ExecutionOutcome>();
        round_trips::<ExecutionTrigger>();
        round_trips::<FireDisposition>();
        assert_eq!(ExecutionOutcome::TimedOut.as_str(), "timed_out");
        assert_eq!(
            ExecutionStatus::parse("done").unwrap_err().to_string(),
            "unknown status `done`"
        );
        assert_eq!(
            <ExecutionStatus as Named>::names(),
            "pending, running, completed, failed"
        );
    }
}
