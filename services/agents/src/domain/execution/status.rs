//! The states of an execution and of its model calls, as types. They are stored as their
//! snake_case names (`text` columns with check constraints, see the agents schema migration)
//! and shown to clients with the same spelling; an unknown name in a request is a 422 at the
//! edge ([`ExecutionStatus::from_str`]), and one read from the database is an error, never a
//! default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an execution is in its life: pending → running → completed | failed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExecutionStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

impl ExecutionStatus {
    /// Every status, in life order.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Running, Self::Completed, Self::Failed];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Completed or failed: nothing will change it any more.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    /// The names a client may use, as the 422 lists them: `pending, running, ...`.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown execution status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for ExecutionStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| UnknownStatus(name.to_owned()))
    }
}

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
}

impl ExecutionOutcome {
    /// The stored and shown name (also the `outcome` metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
            Self::TimedOut => "timed_out",
            Self::MaxIterations => "max_iterations",
            Self::Abandoned => "abandoned",
        }
    }

    /// The status an execution ends with: `completed` for an answer, else `failed`.
    pub fn status(self) -> ExecutionStatus {
        match self {
            Self::Completed => ExecutionStatus::Completed,
            _ => ExecutionStatus::Failed,
        }
    }
}

impl fmt::Display for ExecutionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_unknown_ones_are_refused() {
        for status in ExecutionStatus::ALL {
            assert_eq!(status.as_str().parse::<ExecutionStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(
            "cancelled".parse::<ExecutionStatus>(),
            Err(UnknownStatus("cancelled".to_owned()))
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
        ] {
            assert_eq!(outcome.status(), ExecutionStatus::Failed, "{outcome}");
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::json!(outcome.as_str())
            );
        }
    }
}
