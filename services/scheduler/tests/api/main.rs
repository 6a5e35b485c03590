//! Integration tests of the scheduler service: real Postgres and Redis, with auth and the
//! agents service (echo provider) in the same process and reached over HTTP, as `temponest
//! serve` runs them. Time is driven by a manual clock where a test is about fire times.

mod bad_input;
mod crash;
mod engine;
mod fresh;
mod helpers;
mod multi;
mod schedules;
