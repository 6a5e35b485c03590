//! API types of executions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::filters::named_param;
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks;
use crate::db::executions::ExecutionRow;
use crate::domain::execution::feed::ExecutionChange;
use crate::domain::execution::{ExecutionOutcome, ExecutionStatus};

const MAX_PROJECT_ID: usize = 200;

/// `POST /agents/{id}/execute`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecuteIn {
    pub user_message: String,
    /// Extra facts for the model (shown to it as JSON after the system prompt).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: Option<serde_json::Value>,
    /// `true`: answer with `text/event-stream` frames `data: {"content": ...}` ending with
    /// `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// The project the execution's spend is reported under (`/costs/summary?project_id=`);
    /// when absent, a string `context.project_id` is used.
    #[serde(default)]
    pub project_id: Option<String>,
}

/// A valid execution request.
#[derive(Debug)]
pub struct ValidExecute {
    pub user_message: String,
    /// Always a JSON object.
    pub context: serde_json::Value,
    pub stream: bool,
    pub project_id: Option<String>,
}

impl ExecuteIn {
    /// The message, a context object and the project (from the body, else from the context).
    pub fn validate(self) -> Result<ValidExecute, ApiError> {
        let mut errors = Vec::new();
        checks::check_message(&mut errors, "user_message", &self.user_message);
        let context = checks::context_object(self.context, &mut errors);
        // An explicit `project_id` must be valid; one found in the free-form context is used
        // only when it is a usable name (contexts were never validated, so a client's odd
        // value there is not an error — its spend is then simply not split by project).
        let project_id = match self.project_id.map(|id| id.trim().to_owned()) {
            Some(id) if id.is_empty() || id.chars().count() > MAX_PROJECT_ID => {
                errors.push(FieldError::new(
                    "project_id",
                    format!("must be 1 to {MAX_PROJECT_ID} characters"),
                ));
                None
            }
            Some(id) => Some(id),
            None => context
                .get("project_id")
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|id| !id.is_empty() && id.chars().count() <= MAX_PROJECT_ID)
                .map(str::to_owned),
        };
        if errors.is_empty() {
            Ok(ValidExecute {
                user_message: self.user_message,
                context,
                stream: self.stream,
                project_id,
            })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Token counts of an execution (all its LLM calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokensUsed {
    pub prompt: i64,
    pub completion: i64,
    pub total: i64,
}

impl TokensUsed {
    /// The prompt and completion tokens and their total.
    pub fn new(prompt: impl Into<i64>, completion: impl Into<i64>) -> Self {
        let (prompt, completion) = (prompt.into(), completion.into());
        Self {
            prompt,
            completion,
            total: prompt + completion,
        }
    }
}

/// An execution as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionOut {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub tenant_id: Uuid,
    pub status: ExecutionStatus,
    /// The finer result next to `status` (null while unfinished).
    pub outcome: Option<ExecutionOutcome>,
    pub user_message: String,
    pub response: Option<String>,
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
    /// Name of each tool called, in call order.
    pub tools_used: Vec<String>,
    /// Each tool call in detail: tool, arguments, result or error, duration, iteration.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: serde_json::Value,
    /// The knowledge chunks the run's `knowledge_search` calls returned, best first per call
    /// ([] when none).
    #[serde(default)]
    pub citations: Vec<Citation>,
    pub tokens_used: TokensUsed,
    pub cost_usd: f64,
    /// A call used a model without a known price: `cost_usd` is a lower bound.
    pub unpriced: bool,
    /// From start to finish (null until finished).
    pub execution_time_seconds: Option<f64>,
    pub error: Option<String>,
    pub provider: String,
    pub model: String,
    pub stream: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A knowledge chunk an execution used: which document of which collection, its position
/// and its retrieval score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    pub collection_id: Uuid,
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub score: f64,
}

impl From<ExecutionRow> for ExecutionOut {
    fn from(row: ExecutionRow) -> Self {
        let execution_time_seconds = row.completed_at.map(|done| {
            let start = row.started_at.unwrap_or(row.created_at);
            ((done - start).num_microseconds().unwrap_or(0).max(0) as f64) / 1e6
        });
        Self {
            id: row.id,
            agent_id: row.agent_id,
            tenant_id: row.tenant_id,
            status: row.status,
            outcome: row.outcome,
            user_message: row.user_message,
            response: row.response,
            context: row.context,
            tools_used: row.tools_used,
            tool_calls: row.tool_calls,
            citations: serde_json::from_value(row.citations).unwrap_or_default(),
            tokens_used: TokensUsed::new(row.prompt_tokens, row.completion_tokens),
            cost_usd: nanos_to_usd(row.cost_nanos),
            unpriced: row.unpriced,
            execution_time_seconds,
            error: row.error,
            provider: row.provider,
            model: row.model,
            stream: row.stream,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        }
    }
}

/// An event of `GET /executions/events`: an execution of the caller's tenant was created or
/// changed status (or totals) — the fields an execution list shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionChangeOut {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub tokens_used: TokensUsed,
    pub cost_usd: f64,
    pub unpriced: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&ExecutionChange> for ExecutionChangeOut {
    fn from(change: &ExecutionChange) -> Self {
        Self {
            id: change.id,
            agent_id: change.agent_id,
            status: change.status,
            outcome: change.outcome,
            tokens_used: TokensUsed::new(change.prompt_tokens, change.completion_tokens),
            cost_usd: nanos_to_usd(change.cost_nanos),
            unpriced: change.unpriced,
            created_at: change.created_at,
            started_at: change.started_at,
            completed_at: change.completed_at,
        }
    }
}

/// Nano-dollars as dollars.
pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// `GET /executions/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct ExecutionFilter {
    pub agent_id: Option<String>,
    pub status: Option<String>,
}

impl ExecutionFilter {
    /// The agent and the status to filter by; an unknown status is a 422 naming the known ones.
    pub fn parse(self) -> Result<(Option<Uuid>, Option<ExecutionStatus>), ApiError> {
        let agent_id = checks::id_param("agent_id", self.agent_id.as_deref())?;
        let status = named_param("status", self.status.as_deref())?;
        Ok((agent_id, status))
    }
}
