//! SQL of the agents service, one module per table family (and per report family). Handlers never touch sqlx.

pub mod agents;
pub mod budgets;
pub mod collaboration;
pub mod cost_reports;
pub mod costs;
pub mod dashboard;
pub mod executions;
