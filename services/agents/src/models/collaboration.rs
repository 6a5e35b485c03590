//! API types of collaboration sessions: the request of `POST /collaboration/execute` (one
//! body shape with the fields of every pattern, validated per pattern), the session and its
//! steps as the API shows them, and the list filters.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_db::names::Named;
use temponest_web::filters::named_param;
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks;
use crate::db::collaboration::{SessionRow, StepRow};
use crate::domain::collaboration::{
    DelegationStrategy, Pattern, SessionOutcome, SessionPlan, SessionRequest, SessionStatus,
};
use crate::domain::execution::{ExecutionOutcome, ExecutionStatus};
use crate::models::TokensUsed;
use crate::models::executions::nanos_to_usd;

/// Passes of a sequential chain.
pub const MAX_SEQUENTIAL_PASSES: u32 = 10;
/// Rounds of an iterative session.
pub const MAX_ITERATIVE_ROUNDS: u32 = 20;

/// `POST /collaboration/execute`: `pattern` and the fields of that pattern —
/// sequential {agent_ids, initial_message, config {pass_full_history (true), max_iterations (1)}},
/// parallel {agent_ids, messages, config {aggregate_results (true)}},
/// iterative {agent_ids, initial_message, config {max_iterations (3), convergence_threshold (0.9)}},
/// hierarchical {coordinator_id, worker_ids, task, config {delegation_strategy (round_robin)}};
/// each with an optional `context` object and `wait` (true).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CollaborationIn {
    /// sequential | parallel | iterative | hierarchical
    pub pattern: String,
    #[serde(default)]
    pub agent_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub initial_message: Option<String>,
    /// Parallel: one message per agent, in `agent_ids` order.
    #[serde(default)]
    pub messages: Option<Vec<String>>,
    #[serde(default)]
    pub coordinator_id: Option<Uuid>,
    #[serde(default)]
    pub worker_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub config: Option<PatternConfigIn>,
    /// Given to every step's execution (shown to the model as JSON).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: Option<serde_json::Value>,
    /// Wait for the end (up to `collaboration.wait_timeout_secs`); `false` answers at once.
    #[serde(default)]
    pub wait: Option<bool>,
}

/// The `config` of every pattern (each uses its own fields).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PatternConfigIn {
    pub pass_full_history: Option<bool>,
    pub max_iterations: Option<i64>,
    pub aggregate_results: Option<bool>,
    pub convergence_threshold: Option<f64>,
    /// round_robin | capability_based | load_balanced
    pub delegation_strategy: Option<String>,
}

/// A valid request.
#[derive(Debug)]
pub struct ValidSession {
    pub request: SessionRequest,
    pub wait: bool,
}

impl CollaborationIn {
    /// Checks the request for its pattern, naming every bad field.
    pub fn validate(self, max_agents: usize) -> Result<ValidSession, ApiError> {
        let pattern = Pattern::parse(self.pattern.trim()).map_err(|_| {
            ApiError::invalid_field("pattern", format!("must be one of {}", Pattern::names()))
        })?;
        let mut errors = Vec::new();
        let config = self.config.unwrap_or_default();
        let context = checks::context_object(self.context, &mut errors);
        let agents = |field: &str, ids: Option<Vec<Uuid>>, errors: &mut Vec<FieldError>| {
            let ids = ids.unwrap_or_default();
            if ids.is_empty() {
                errors.push(FieldError::new(field, "must name at least one agent"));
            } else if ids.len() > max_agents {
                errors.push(FieldError::new(
                    field,
                    format!("must name at most {max_agents} agents"),
                ));
            }
            ids
        };
        let plan = match pattern {
            Pattern::Sequential => SessionPlan::Sequential {
                agent_ids: agents("agent_ids", self.agent_ids, &mut errors),
                initial_message: text("initial_message", self.initial_message, &mut errors),
                pass_full_history: config.pass_full_history.unwrap_or(true),
                max_iterations: bounded(
                    "config.max_iterations",
                    config.max_iterations,
                    1,
                    MAX_SEQUENTIAL_PASSES,
                    &mut errors,
                ),
            },
            Pattern::Parallel => {
                let agent_ids = agents("agent_ids", self.agent_ids, &mut errors);
                let messages = self.messages.unwrap_or_default();
                if messages.len() != agent_ids.len() {
                    errors.push(FieldError::new(
                        "messages",
                        format!(
                            "must have one message per agent ({} agents, {} messages)",
                            agent_ids.len(),
                            messages.len()
                        ),
                    ));
                }
                for (i, message) in messages.iter().enumerate() {
                    checks::check_message(&mut errors, &format!("messages[{i}]"), message);
                }
                SessionPlan::Parallel {
                    agent_ids,
                    messages,
                    aggregate_results: config.aggregate_results.unwrap_or(true),
                }
            }
            Pattern::Iterative => {
                let threshold = config.convergence_threshold.unwrap_or(0.9);
                if !(threshold > 0.0 && threshold <= 1.0) {
                    errors.push(FieldError::new(
                        "config.convergence_threshold",
                        "must be greater than 0 and at most 1",
                    ));
                }
                SessionPlan::Iterative {
                    agent_ids: agents("agent_ids", self.agent_ids, &mut errors),
                    initial_message: text("initial_message", self.initial_message, &mut errors),
                    max_iterations: bounded(
                        "config.max_iterations",
                        config.max_iterations.or(Some(3)),
                        1,
                        MAX_ITERATIVE_ROUNDS,
                        &mut errors,
                    ),
                    convergence_threshold: threshold,
                }
            }
            Pattern::Hierarchical => {
                let worker_ids = agents("worker_ids", self.worker_ids, &mut errors);
                let coordinator_id = self.coordinator_id.unwrap_or_else(|| {
                    errors.push(FieldError::new("coordinator_id", "is required"));
                    Uuid::nil()
                });
                if worker_ids.contains(&coordinator_id) {
                    errors.push(FieldError::new(
                        "worker_ids",
                        "must not include the coordinator (coordinator_id)",
                    ));
                }
                if worker_ids.iter().collect::<HashSet<_>>().len() != worker_ids.len() {
                    errors.push(FieldError::new("worker_ids", "must not repeat a worker"));
                }
                let strategy = match config.delegation_strategy.as_deref().map(str::trim) {
                    None | Some("") => DelegationStrategy::default(),
                    Some(name) => DelegationStrategy::parse(name).unwrap_or_else(|_| {
                        errors.push(FieldError::new(
                            "config.delegation_strategy",
                            format!("must be one of {}", DelegationStrategy::names()),
                        ));
                        DelegationStrategy::default()
                    }),
                };
                SessionPlan::Hierarchical {
                    coordinator_id,
                    worker_ids,
                    task: text("task", self.task, &mut errors),
                    delegation_strategy: strategy,
                }
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(ValidSession {
            request: SessionRequest { plan, context },
            wait: self.wait.unwrap_or(true),
        })
    }
}

fn text(field: &str, value: Option<String>, errors: &mut Vec<FieldError>) -> String {
    let value = value.unwrap_or_default();
    checks::check_message(errors, field, &value);
    value
}

fn bounded(
    field: &str,
    value: Option<i64>,
    min: u32,
    max: u32,
    errors: &mut Vec<FieldError>,
) -> u32 {
    let value = value.unwrap_or(i64::from(min));
    if value < i64::from(min) || value > i64::from(max) {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
        return min;
    }
    value as u32
}

/// One step of a session (its latest attempt) as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepOut {
    /// The step's stable name in the pattern (`pass-1/agent-0`, `branch-2`, `plan`, ...).
    pub step_key: String,
    /// 1, or more when the step ran again after a restart.
    pub attempt: i32,
    pub agent_id: Uuid,
    pub input: String,
    pub output: Option<String>,
    /// The execution (`GET /executions/{id}`).
    pub execution_id: Uuid,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub error: Option<String>,
    pub tokens: TokensUsed,
    pub cost_usd: f64,
    pub unpriced: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<StepRow> for StepOut {
    fn from(row: StepRow) -> Self {
        Self {
            step_key: row.step_key,
            attempt: row.attempt,
            agent_id: row.agent_id,
            input: row.input,
            output: row.response,
            execution_id: row.execution_id,
            status: row.status,
            outcome: row.outcome,
            error: row.error,
            tokens: TokensUsed::new(row.prompt_tokens, row.completion_tokens),
            cost_usd: nanos_to_usd(row.cost_nanos),
            unpriced: row.unpriced,
            started_at: row.started_at,
            completed_at: row.completed_at,
        }
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionOut {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pattern: Pattern,
    /// Every agent of the session (hierarchical: the coordinator first).
    pub agent_ids: Vec<Uuid>,
    pub status: SessionStatus,
    /// The finer result next to `status` (null while unfinished).
    pub outcome: Option<SessionOutcome>,
    pub error: Option<String>,
    /// The session's answer (null while running, on failure, and for a parallel session
    /// without `aggregate_results`).
    pub final_output: Option<String>,
    /// The steps so far, in the pattern's order.
    pub results: Vec<StepOut>,
    /// Every step's executions (all attempts) together.
    pub total_cost_usd: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl SessionOut {
    /// The session `row` with its `steps` (those of other sessions are ignored).
    pub fn new(row: SessionRow, steps: Vec<StepRow>) -> Self {
        let steps: Vec<StepRow> = steps
            .into_iter()
            .filter(|s| s.session_id == row.id)
            .collect();
        let total = steps.first().map_or(0, |s| s.session_cost_nanos);
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            pattern: row.pattern,
            agent_ids: row.agent_ids,
            status: row.status,
            outcome: row.outcome,
            error: row.error,
            final_output: row.final_output,
            results: steps.into_iter().map(StepOut::from).collect(),
            total_cost_usd: nanos_to_usd(total),
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        }
    }
}

/// `GET /collaboration/sessions/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct SessionFilter {
    pub pattern: Option<String>,
    pub status: Option<String>,
}

impl SessionFilter {
    /// The pattern and status to filter by; unknown names are a 422 naming the known ones.
    pub fn parse(self) -> Result<(Option<Pattern>, Option<SessionStatus>), ApiError> {
        Ok((
            named_param("pattern", self.pattern.as_deref())?,
            named_param("status", self.status.as_deref())?,
        ))
    }
}
