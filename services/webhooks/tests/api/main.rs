//! The webhooks service over HTTP against real Postgres and Redis, delivering to real local
//! HTTP receivers.

mod deliveries;
mod endpoints;
mod helpers;
