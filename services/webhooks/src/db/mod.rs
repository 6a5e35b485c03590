//! SQL of the webhooks service, one module per table family. Handlers never touch sqlx.

pub mod deliveries;
pub mod endpoints;
pub mod queue;
pub mod secrets;
