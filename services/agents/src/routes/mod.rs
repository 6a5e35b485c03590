//! HTTP handlers, one module per resource.

pub mod agents;
pub mod executions;
pub mod prices;
