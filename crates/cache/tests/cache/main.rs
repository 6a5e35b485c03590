//! Integration tests for `temponest-cache` against a real Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Every test uses its own key prefix, so tests run in parallel
//! without seeing each other's keys or invalidation messages.

mod cache_aside;
mod expiry;
mod invalidation;
mod logging;
mod metric_counters;
mod namespaces;
mod outage;
mod support;
