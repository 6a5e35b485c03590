//! The agents service's domain logic: running executions, tools, prices, cost reports and
//! their retention, the dashboard.

pub mod budgets;
pub mod collaboration;
pub mod cost_reports;
pub mod cost_retention;
pub mod dashboard;
pub mod execution;
pub mod knowledge;
pub mod lifecycle;
pub mod price_cache;
pub mod pricing;
pub mod runs;
pub mod tools;
