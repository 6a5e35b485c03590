//! The webhooks service over HTTP against real Postgres and Redis, delivering to real local
//! HTTP receivers.

mod crash;
mod delivery;
mod fairness;
#[allow(dead_code)] // shared with the HTTP API tests
mod helpers;
mod receiver;
mod ssrf;
