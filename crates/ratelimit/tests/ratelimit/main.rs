//! Integration tests of temponest-ratelimit against a real Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Every test uses its own key prefix, so tests run in parallel.

mod check;
mod config;
mod fallback;
mod headers;
mod helpers;
mod middleware;
