//! API types: request bodies with their validation, and response shapes.

pub mod executions;
pub mod schedules;

pub use executions::{ExecutionFilter, ExecutionOut, FireOut, TokensUsed};
pub use schedules::{
    ScheduleFilter, ScheduleIn, ScheduleOut, SchedulePatch, ScheduleSpec, TaskConfig,
};

use temponest_web::FieldError;

use temponest_db::names::Named;

/// The value `given` names in request field `field`; an unknown name is that field's error,
/// listing the names accepted.
pub(crate) fn named_field<N: Named>(field: &str, given: &str) -> Result<N, FieldError> {
    N::parse_name(given)
        .map_err(|_| FieldError::new(field, format!("must be one of: {}", N::names())))
}
