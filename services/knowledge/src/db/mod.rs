//! SQL of the knowledge service, one module per table family. Handlers never touch sqlx.

pub mod chunks;
pub mod collections;
pub mod documents;
pub mod queue;
