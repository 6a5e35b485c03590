//! The states of an execution and of its model calls, as types. They are stored as their
//! snake_case names (`text` columns with check constraints, see the agents schema migration)
//! and shown to clients with the same spelling; an unknown name in a request is a 422 at the
//! edge ([`ExecutionStatus::parse`]), and one read from the database is an error, never a
//! default.

use serde::{Deserialize, Serialize};
use temponest_db::named;

/// Writes a status type of the life every run goes through (an execution, a collaboration
/// session): pending → running → completed | failed, with the same names everywhere (SPEC §2).
macro_rules! life_status {
    ($(#[$doc:meta])* $status:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[derive(serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $status {
            Pending,
            Running,
            Completed,
            Failed,
        }

        temponest_db::named!($status, $kind, Pending => "pending", Running => "running", Completed => "completed", Failed => "failed");

        impl $status {
            /// Completed or failed: nothing will change it any more.
            pub fn is_finished(self) -> bool {
                matches!(self, Self::Completed | Self::Failed)
            }
        }
    };
}
pub(crate) use life_status;

life_status!(
    /// Where an execution is in its life: pending → running → completed | failed.
    ExecutionStatus,
    "execution status"
);

/// The finer result of a finished execution, next to its status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExecutionOutcome {
    /// The model answered (status `completed`).
    Completed,
    /// The provider or the model call failed.
    Failed,
    /// Cancelled through the API.
    Cancelled,
    /// This process shut down while it ran.
    Interrupted,
    /// It exceeded the configured time limit.
    TimedOut,
    /// The model was still calling tools after the agent's `max_iterations` calls.
    MaxIterations,
    /// The process running it died.
    Abandoned,
    /// A model call was refused before it was sent: it could exceed a budget.
    BudgetExceeded,
}

named!(ExecutionOutcome, "execution outcome",
    Completed => "completed", Failed => "failed", Cancelled => "cancelled",
    Interrupted => "interrupted", TimedOut => "timed_out", MaxIterations => "max_iterations",
    Abandoned => "abandoned", BudgetExceeded => "budget_exceeded");

impl ExecutionOutcome {
    /// The status an execution ends with: `completed` for an answer, else `failed`.
    pub fn status(self) -> ExecutionStatus {
        match self {
            Self::Completed => ExecutionStatus::Completed,
            _ => ExecutionStatus::Failed,
        }
    }
}

/// How one model call ended (the `status` of its cost record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CallStatus {
    Success,
    Failed,
    /// Dropped mid-flight because the execution was cancelled or interrupted.
    Cancelled,
}

impl CallStatus {
    /// The stored (and serialized) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temponest_db::names::Named;

    #[test]
    fn status_names_round_trip_and_unknown_ones_are_refused() {
        for &status in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(status.as_str()), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(
            ExecutionStatus::parse("cancelled").unwrap_err().to_string(),
            "unknown execution status `cancelled`"
        );
        assert_eq!(
            ExecutionStatus::names(),
            "pending, running, completed, failed"
        );
    }

    #[test]
    fn only_a_completed_outcome_ends_as_completed() {
        assert_eq!(
            ExecutionOutcome::Completed.status(),
            ExecutionStatus::Completed
        );
        for outcome in [
            ExecutionOutcome::Failed,
            ExecutionOutcome::Cancelled,
            ExecutionOutcome::Interrupted,
            ExecutionOutcome::TimedOut,
            ExecutionOutcome::MaxIterations,
            ExecutionOutcome::Abandoned,
            ExecutionOutcome::BudgetExceeded,
        ] {
            assert_eq!(outcome.status(), ExecutionStatus::Failed, "{outcome}");
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::json!(outcome.as_str())
            );
        }
    }
}
