//! The agents service's domain logic: running executions, tools, prices.

pub mod executor;
pub mod lifecycle;
pub mod pricing;
pub mod runs;
pub mod tools;
