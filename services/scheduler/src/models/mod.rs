//! API types: request bodies with their validation, and response shapes.

pub mod executions;
pub mod schedules;

pub use executions::{ExecutionFilter, ExecutionOut, FireOut, TokensUsed};
pub use schedules::{
    ScheduleFilter, ScheduleIn, ScheduleOut, SchedulePatch, ScheduleSpec, TaskConfig,
};
