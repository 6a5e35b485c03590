//! SQL of the agents service, one module per table family. Handlers never touch sqlx.

pub mod agents;
pub mod cost_reports;
pub mod costs;
pub mod executions;
