//! Domain types and the CPU-bound or cryptographic work behind them, and the background
//! upkeep of the service's tables.

pub mod at_rest;
pub mod credentials;
pub mod email;
pub mod password;
pub mod service_clients;
pub mod signing;
pub mod throttle_retention;
