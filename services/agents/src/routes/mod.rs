//! HTTP handlers, one module per resource.

pub mod agents;
pub mod budgets;
pub mod collaboration;
pub mod cost_export;
pub mod costs;
pub mod dashboard;
pub mod executions;
pub mod prices;
