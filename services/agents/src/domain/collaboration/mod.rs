//! Multi-agent collaboration sessions (SPEC §4, issue 15): a session runs one pattern —
//! sequential, parallel, iterative or hierarchical — over a tenant's agents, and every step
//! is a real execution (same providers, tools, cost records and budgets as
//! `POST /agents/{id}/execute`), linked to the session under a stable step key.
//!
//! The concerns live beside this module: [`patterns`] (what each step's input is and what a
//! session's answer is — pure), [`convergence`] (the iterative pattern's similarity measure —
//! pure), [`delegation`] (the hierarchical plan: parsing, validation against the workers and
//! the three delegation strategies — pure), [`steps`] (one step as one execution, memoised by
//! its key), [`engine`] (the sessions running in this process: start, resume after a
//! restart, cancel, shut down) and [`events`] (what the outbox carries).
//!
//! `status` keeps to pending | running | completed | failed (SPEC §2); the finer result is
//! [`SessionOutcome`].

pub mod convergence;
pub mod delegation;
pub mod engine;
pub mod events;
pub mod flows;
pub mod patterns;
pub mod steps;

use serde::{Deserialize, Serialize};
use temponest_db::named;
use uuid::Uuid;

pub use engine::Sessions;

/// How the agents of a session work together.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Pattern {
    /// Each agent in turn works on the previous one's output.
    Sequential,
    /// Every agent gets its own message at once.
    Parallel,
    /// The agents take turns refining one answer until it stops changing.
    Iterative,
    /// A coordinator plans subtasks, workers do them, the coordinator synthesises.
    Hierarchical,
}

named!(Pattern, "collaboration pattern",
    Sequential => "sequential", Parallel => "parallel", Iterative => "iterative",
    Hierarchical => "hierarchical");

crate::domain::execution::status::life_status!(
    /// Where a session is in its life: pending → running → completed | failed.
    SessionStatus,
    "session status"
);

/// The finer result of a finished session, next to its status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SessionOutcome {
    /// Every step ran (status `completed`).
    Completed,
    /// A step failed, or the hierarchical plan was malformed twice.
    Failed,
    /// Cancelled through the API.
    Cancelled,
    /// Iterative: successive outputs reached the convergence threshold (status `completed`).
    Converged,
    /// Iterative: the rounds ran out before convergence (status `completed`).
    MaxIterations,
    /// A step's model call was refused by a budget.
    BudgetExceeded,
}

named!(SessionOutcome, "session outcome",
    Completed => "completed", Failed => "failed", Cancelled => "cancelled",
    Converged => "converged", MaxIterations => "max_iterations",
    BudgetExceeded => "budget_exceeded");

impl SessionOutcome {
    /// The status a session ends with.
    pub fn status(self) -> SessionStatus {
        match self {
            Self::Completed | Self::Converged | Self::MaxIterations => SessionStatus::Completed,
            Self::Failed | Self::Cancelled | Self::BudgetExceeded => SessionStatus::Failed,
        }
    }
}

/// How the hierarchical coordinator's subtasks are given to workers ([`delegation`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DelegationStrategy {
    /// Subtask j goes to worker j mod n.
    #[default]
    RoundRobin,
    /// The worker the plan names, else the one whose name, description and tools share the
    /// most words with the subtask.
    CapabilityBased,
    /// The worker with the fewest unfinished executions (already running plus assigned).
    LoadBalanced,
}

named!(DelegationStrategy, "delegation strategy",
    RoundRobin => "round_robin", CapabilityBased => "capability_based",
    LoadBalanced => "load_balanced");

/// What a session runs: the validated request, stored with the session so a resumed session
/// runs exactly the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "pattern", rename_all = "snake_case")]
pub enum SessionPlan {
    Sequential {
        agent_ids: Vec<Uuid>,
        initial_message: String,
        pass_full_history: bool,
        /// Passes through the chain (the last output feeds the first agent again).
        max_iterations: u32,
    },
    Parallel {
        agent_ids: Vec<Uuid>,
        messages: Vec<String>,
        aggregate_results: bool,
    },
    Iterative {
        agent_ids: Vec<Uuid>,
        initial_message: String,
        /// Rounds (each agent once per round).
        max_iterations: u32,
        convergence_threshold: f64,
    },
    Hierarchical {
        coordinator_id: Uuid,
        worker_ids: Vec<Uuid>,
        task: String,
        delegation_strategy: DelegationStrategy,
    },
}

impl SessionPlan {
    pub fn pattern(&self) -> Pattern {
        match self {
            Self::Sequential { .. } => Pattern::Sequential,
            Self::Parallel { .. } => Pattern::Parallel,
            Self::Iterative { .. } => Pattern::Iterative,
            Self::Hierarchical { .. } => Pattern::Hierarchical,
        }
    }

    /// Every agent of the session (the coordinator first), as the session lists them.
    pub fn agent_ids(&self) -> Vec<Uuid> {
        match self {
            Self::Sequential { agent_ids, .. }
            | Self::Parallel { agent_ids, .. }
            | Self::Iterative { agent_ids, .. } => agent_ids.clone(),
            Self::Hierarchical {
                coordinator_id,
                worker_ids,
                ..
            } => std::iter::once(*coordinator_id)
                .chain(worker_ids.iter().copied())
                .collect(),
        }
    }
}

/// The stored request: the plan and the context every step's execution gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRequest {
    #[serde(flatten)]
    pub plan: SessionPlan,
    /// Always a JSON object.
    pub context: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_end_a_session_as_failed() {
        for outcome in SessionOutcome::ALL {
            let failed = matches!(
                outcome,
                SessionOutcome::Failed | SessionOutcome::Cancelled | SessionOutcome::BudgetExceeded
            );
            assert_eq!(
                outcome.status() == SessionStatus::Failed,
                failed,
                "{outcome}"
            );
        }
    }

    #[test]
    fn a_stored_request_reads_back_as_it_was_written() {
        let request = SessionRequest {
            plan: SessionPlan::Hierarchical {
                coordinator_id: Uuid::nil(),
                worker_ids: vec![Uuid::max()],
                task: "t".into(),
                delegation_strategy: DelegationStrategy::LoadBalanced,
            },
            context: serde_json::json!({"k": 1}),
        };
        let stored = serde_json::to_value(&request).unwrap();
        assert_eq!(stored["pattern"], "hierarchical");
        assert_eq!(stored["delegation_strategy"], "load_balanced");
        let back: SessionRequest = serde_json::from_value(stored).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.plan.agent_ids(), vec![Uuid::nil(), Uuid::max()]);
    }
}
