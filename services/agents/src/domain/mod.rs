//! The agents service's domain logic: running executions, tools, prices.

pub mod execution;
pub mod lifecycle;
pub mod price_cache;
pub mod pricing;
pub mod runs;
pub mod tools;
