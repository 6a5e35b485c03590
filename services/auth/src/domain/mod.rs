//! Domain types and the CPU-bound or cryptographic work behind them.

pub mod at_rest;
pub mod credentials;
pub mod email;
pub mod password;
pub mod service_clients;
pub mod signing;
