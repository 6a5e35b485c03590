//! The engine and its parts.

pub mod agents;
pub mod engine;
pub mod execution;
pub mod firing;
pub mod plan;
pub mod policy;
pub mod runner;
pub mod timing;
