//! Schedule executions and the fire history as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use temponest_web::{ApiError, FieldError};

use crate::db::executions::ExecutionRow;
use crate::db::fires::FireRow;
use crate::domain::execution::{
    ExecutionOutcome, ExecutionStatus, ExecutionTrigger, FireDisposition,
};

/// Token counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokensUsed {
    pub prompt: i64,
    pub completion: i64,
    pub total: i64,
}

/// One execution of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionOut {
    pub id: Uuid,
    /// The schedule (SDKs call it the task).
    pub task_id: Uuid,
    pub schedule_id: Uuid,
    pub agent_id: Uuid,
    pub status: ExecutionStatus,
    /// The finer result next to `status` (null while unfinished).
    pub outcome: Option<ExecutionOutcome>,
    /// `schedule` (a fire time) or `manual` (`POST /schedules/{id}/trigger`).
    pub trigger: ExecutionTrigger,
    /// The fire time it runs for (manual: when it was requested).
    pub fire_time: DateTime<Utc>,
    /// Attempts started so far (retries included).
    pub attempt: i32,
    /// The agents service's execution of the latest attempt.
    pub agent_execution_id: Option<Uuid>,
    /// The agent's response.
    pub result: Option<String>,
    pub tokens_used: TokensUsed,
    pub cost_usd: f64,
    pub error: Option<String>,
    /// Every finished attempt: attempt, agent_execution_id, outcome, error, started_at,
    /// finished_at.
    #[schema(value_type = Vec<Object>)]
    pub attempts: serde_json::Value,
    /// When the next attempt may start (retries wait here).
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

temponest_web::from_row! { r: ExecutionRow => ExecutionOut {
    id, schedule_id, agent_id, status, outcome, trigger, fire_time, attempt, agent_execution_id,
    result, cost_usd, error, attempts, run_after, created_at, started_at, completed_at;
    task_id: r.schedule_id,
    tokens_used: TokensUsed {
        prompt: r.prompt_tokens,
        completion: r.completion_tokens,
        total: r.prompt_tokens + r.completion_tokens,
    },
} }

/// `GET /schedules/{id}/executions` filters.
#[derive(Debug, Default, Deserialize)]
pub struct ExecutionFilter {
    pub status: Option<String>,
}

impl ExecutionFilter {
    /// The status asked for; an unknown one is a 422 listing the statuses.
    pub fn status(&self) -> Result<Option<ExecutionStatus>, ApiError> {
        self.status
            .as_deref()
            .map(|given| super::named_field("status", given))
            .transpose()
            .map_err(|error: FieldError| ApiError::validation(vec![error]))
    }
}

/// One fire time of a schedule and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FireOut {
    pub fire_time: DateTime<Utc>,
    pub disposition: FireDisposition,
    pub execution_id: Option<Uuid>,
    /// The execution's status when executed.
    pub status: Option<ExecutionStatus>,
    pub recorded_at: DateTime<Utc>,
}

temponest_web::from_row! { r: FireRow => FireOut {
    fire_time, disposition, execution_id, status, recorded_at
} }
