//! API types: request bodies (`...In`), patches, responses (`...Out`) and their validation.

pub mod agents;
pub mod budgets;
pub mod collaboration;
pub mod costs;
pub mod dashboard;
pub mod executions;

use temponest_db::names::Named;
use temponest_web::ApiError;

pub use agents::{AgentFilter, AgentIn, AgentOut, AgentPatch, AgentSpec, Known};
pub use collaboration::{CollaborationIn, SessionFilter, SessionOut, StepOut, ValidSession};
pub use executions::{
    Citation, ExecuteIn, ExecutionChangeOut, ExecutionFilter, ExecutionOut, TokensUsed,
    ValidExecute,
};

/// A list filter's parameter, trimmed; an empty one is not given.
fn filter_param(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// A list filter's named value (a status, a pattern); an unknown name is a 422 naming the
/// known ones.
fn named_param<T: Named>(field: &str, raw: Option<String>) -> Result<Option<T>, ApiError> {
    match filter_param(raw.as_deref()) {
        None => Ok(None),
        Some(name) => T::parse_name(name)
            .map(Some)
            .map_err(|_| ApiError::invalid_field(field, format!("must be one of {}", T::names()))),
    }
}
