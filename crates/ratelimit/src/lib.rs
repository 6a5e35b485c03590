//! Rate limiting for TempoNest services (SPEC §2, §7).
//!
//! - **Distributed**: GCRA in one Redis Lua script on the server clock, all policies of a request
//!   checked atomically (all-or-nothing), keys expiring on their own ([`RateLimiter::check`]).
//! - **Degrades, never fails**: while Redis is unreachable, checks use in-process governor
//!   limiters with bounded memory and return to Redis automatically when it is back.
//! - **Policies** per route and per identity (IP, user, API key, tenant, or "client") from
//!   [`RateLimitConfig`]; defaults 60/minute and 1000/hour per client; health, metrics and docs
//!   exempt; `RATE_LIMIT_ENABLED=false` turns it all off.
//! - **Headers**: `X-RateLimit-*`, IETF draft-11 `RateLimit-Policy` / `RateLimit`, and an integer
//!   `Retry-After` with a JSON 429 body ([`Decision::apply_headers`], [`Decision::rejection`]).
//!
//! Wiring: `Router::layer(axum::middleware::from_fn_with_state(limiter, middleware))`, inside
//! the authentication layer so [`ClientIdentity`] is available.
//!
//! Metrics (through the `metrics` facade): `rate_limit_rejections_total{endpoint, scope}`,
//! `rate_limit_backend_errors_total` (failed Redis checks) and the gauge
//! `rate_limit_local_keys` (keys held by the in-process fallback, updated when pruning).

mod config;
mod headers;
mod identity;
mod limiter;
mod local;
mod middleware;
mod policy;
mod redis;

pub use config::{ConfigError, RateLimitConfig, RoutePolicy, Scope};
pub use headers::{
    RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
pub use identity::{ClientIdentity, client_ip};
pub use limiter::{REDIS_BACKOFF, REDIS_TIMEOUT, RateLimiter};
pub use middleware::{Allowed, Check, middleware};
pub use policy::{Decision, Policy, PolicyState};
