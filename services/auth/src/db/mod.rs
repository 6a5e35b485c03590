//! SQL of the auth service, one module per table. Every query that touches tenant data
//! filters by tenant id.

pub mod api_keys;
pub mod audit;
pub mod secrets;
pub mod sessions;
pub mod signing_keys;
pub mod throttle;
pub mod users;
