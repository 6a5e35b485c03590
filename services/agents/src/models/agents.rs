//! API types of agents: request bodies (`AgentIn`, `AgentPatch`), the response (`AgentOut`)
//! and their validation into domain values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::filters::filter_param;
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks;
use crate::db::agents::AgentRow;
use crate::domain::execution::AgentSettings;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_SYSTEM_PROMPT: usize = 100_000;
const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_COLLECTIONS: usize = 50;
const MAX_SEARCH: usize = 200;

/// `POST /agents/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentIn {
    pub name: String,
    pub model: String,
    pub description: Option<String>,
    /// Provider name (default `ollama`).
    pub provider: Option<String>,
    pub system_prompt: Option<String>,
    /// Names of built-in tools the agent may call.
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub rag_collection_ids: Vec<Uuid>,
    /// Model calls per execution, tool rounds included (default 10, 1–50).
    pub max_iterations: Option<i32>,
    /// Sampling temperature (default 0.7, 0–2).
    pub temperature: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
}

temponest_web::patch! {
    /// `PATCH /agents/{id}`: only the fields sent change; `null` clears the optional ones.
    #[derive(Debug, Default, Deserialize, ToSchema)]
    pub struct AgentPatch: nullable {
        pub name: String,
        pub model: String,
        pub description: String,
        pub provider: String,
        pub system_prompt: String,
        pub tools: Vec<String>,
        pub rag_collection_ids: Vec<Uuid>,
        pub max_iterations: i32,
        pub temperature: f64,
        pub metadata: serde_json::Value as Object,
    }
}

/// An agent as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentOut {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub model: String,
    pub provider: String,
    pub system_prompt: Option<String>,
    pub tools: Vec<String>,
    pub rag_collection_ids: Vec<Uuid>,
    pub max_iterations: i32,
    pub temperature: f64,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AgentRow> for AgentOut {
    fn from(row: AgentRow) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            description: row.description,
            model: row.model,
            provider: row.provider,
            system_prompt: row.system_prompt,
            tools: row.tools,
            rag_collection_ids: row.rag_collection_ids,
            max_iterations: row.max_iterations,
            temperature: row.temperature,
            metadata: row.metadata,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// What a run needs of an agent, read off its row or its API form (they share these fields).
macro_rules! agent_settings {
    ($agent:expr) => {{
        let agent = $agent;
        AgentSettings {
            id: agent.id,
            provider: agent.provider.clone(),
            model: agent.model.clone(),
            system_prompt: agent.system_prompt.clone(),
            tools: agent.tools.clone(),
            rag_collection_ids: agent.rag_collection_ids.clone(),
            max_iterations: agent.max_iterations,
            temperature: agent.temperature,
        }
    }};
}

impl From<&AgentOut> for AgentSettings {
    fn from(agent: &AgentOut) -> Self {
        agent_settings!(agent)
    }
}

impl From<&AgentRow> for AgentSettings {
    fn from(agent: &AgentRow) -> Self {
        agent_settings!(agent)
    }
}

/// A validated agent definition (create, or the result of applying a patch).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    pub name: String,
    pub model: String,
    pub description: Option<String>,
    pub provider: String,
    pub system_prompt: Option<String>,
    pub tools: Vec<String>,
    pub rag_collection_ids: Vec<Uuid>,
    pub max_iterations: i32,
    pub temperature: f64,
    pub metadata: serde_json::Value,
}

/// What validation checks names against.
pub struct Known<'a> {
    pub providers: &'a [String],
    pub tools: &'a [&'a str],
}

impl AgentIn {
    pub fn validate(
        self,
        known: &Known<'_>,
        default_provider: &str,
    ) -> Result<AgentSpec, ApiError> {
        AgentSpec {
            name: self.name,
            model: self.model,
            description: self.description,
            provider: self.provider.unwrap_or_else(|| default_provider.to_owned()),
            system_prompt: self.system_prompt,
            tools: self.tools,
            rag_collection_ids: self.rag_collection_ids,
            max_iterations: self.max_iterations.unwrap_or(10),
            temperature: self.temperature.unwrap_or(0.7),
            metadata: self.metadata.unwrap_or_else(|| serde_json::json!({})),
        }
        .validated(known)
    }
}

impl AgentPatch {
    /// Applies the sent fields to `current` and validates the result.
    pub fn apply(self, current: &AgentOut, known: &Known<'_>) -> Result<AgentSpec, ApiError> {
        let mut errors = Vec::new();
        let mut required = |field: &str, value: Option<Option<String>>, old: &str| match value {
            None => old.to_owned(),
            Some(Some(v)) => v,
            Some(None) => {
                errors.push(FieldError::new(field, "must not be null"));
                old.to_owned()
            }
        };
        let name = required("name", self.name, &current.name);
        let model = required("model", self.model, &current.model);
        let provider = required("provider", self.provider, &current.provider);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        AgentSpec {
            name,
            model,
            provider,
            description: self.description.unwrap_or(current.description.clone()),
            system_prompt: self.system_prompt.unwrap_or(current.system_prompt.clone()),
            tools: self
                .tools
                .map_or(current.tools.clone(), Option::unwrap_or_default),
            rag_collection_ids: self.rag_collection_ids.map_or(
                current.rag_collection_ids.clone(),
                Option::unwrap_or_default,
            ),
            max_iterations: self
                .max_iterations
                .flatten()
                .unwrap_or(current.max_iterations),
            temperature: self.temperature.flatten().unwrap_or(current.temperature),
            metadata: self.metadata.map_or(current.metadata.clone(), |m| {
                m.unwrap_or_else(|| serde_json::json!({}))
            }),
        }
        .validated(known)
    }
}

impl AgentSpec {
    fn validated(mut self, known: &Known<'_>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        self.name = self.name.trim().to_owned();
        self.model = self.model.trim().to_owned();
        checks::check_text(&mut errors, "name", Some(&self.name), true, MAX_NAME);
        checks::check_text(&mut errors, "model", Some(&self.model), true, MAX_NAME);
        checks::check_text(
            &mut errors,
            "description",
            self.description.as_deref(),
            false,
            MAX_DESCRIPTION,
        );
        checks::check_text(
            &mut errors,
            "system_prompt",
            self.system_prompt.as_deref(),
            false,
            MAX_SYSTEM_PROMPT,
        );
        if !known.providers.contains(&self.provider) {
            errors.push(FieldError::new(
                "provider",
                format!(
                    "unknown provider '{}' (configured: {})",
                    self.provider,
                    known.providers.join(", ")
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for tool in &self.tools {
            if !known.tools.contains(&tool.as_str()) {
                errors.push(FieldError::new(
                    "tools",
                    format!(
                        "unknown tool '{tool}' (available: {})",
                        known.tools.join(", ")
                    ),
                ));
            } else if !seen.insert(tool.as_str()) {
                errors.push(FieldError::new(
                    "tools",
                    format!("tool '{tool}' is listed twice"),
                ));
            }
        }
        if self.rag_collection_ids.len() > MAX_COLLECTIONS {
            errors.push(FieldError::new(
                "rag_collection_ids",
                format!("at most {MAX_COLLECTIONS} collections"),
            ));
        }
        if !(1..=50).contains(&self.max_iterations) {
            errors.push(FieldError::new(
                "max_iterations",
                "must be between 1 and 50",
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            errors.push(FieldError::new("temperature", "must be between 0 and 2"));
        }
        checks::check_json_object(&mut errors, "metadata", &self.metadata, MAX_METADATA_BYTES);
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// `GET /agents/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct AgentFilter {
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

impl AgentFilter {
    /// The text to search for (none when blank); a longer one than 200 characters is a 422.
    pub fn parse(&self) -> Result<Option<&str>, ApiError> {
        let search = filter_param(self.search.as_deref());
        if search.is_some_and(|s| s.chars().count() > MAX_SEARCH) {
            return Err(ApiError::invalid_field(
                "search",
                format!("must be at most {MAX_SEARCH} characters"),
            ));
        }
        Ok(search)
    }
}
