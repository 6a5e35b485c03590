//! HTTP routes of the auth service, one module per resource.

pub mod api_keys;
pub mod auth;
pub mod client;
pub mod jwks;
pub mod service_tokens;
pub mod session;
pub mod users;
