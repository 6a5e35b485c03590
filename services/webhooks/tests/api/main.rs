//! The webhooks service over HTTP against real Postgres and Redis, delivering to real local
//! HTTP receivers.

mod bad_input;
mod burst;
mod crash;
mod deliveries;
mod delivery;
mod endpoints;
mod exposure;
mod fairness;
mod fresh;
mod helpers;
mod publish;
mod receiver;
mod retention;
mod sealing;
mod ssrf;
