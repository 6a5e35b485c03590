//! Queries, one module per table.

pub mod executions;
pub mod fires;
pub mod schedules;

/// The channel the engine listens on: new or changed schedules and queued executions.
pub const NOTIFY_CHANNEL: &str = "temponest_scheduler";
