//! Rate-limit configuration: defaults from the SPEC, per-route overrides, and the
//! `RATE_LIMIT_*` settings (the service kit reads them from its layered configuration; see
//! [`RateLimitConfig::from_lookup`] for their forms).

use http::Method;

use crate::Policy;

/// Whose budget a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The client IP address (IPv6 addresses are grouped by their /64 network).
    Ip,
    /// The authenticated user; anonymous requests fall back to [`Scope::Client`].
    User,
    /// The API key; requests without one fall back to [`Scope::Client`].
    ApiKey,
    /// The tenant; requests without one fall back to [`Scope::Client`].
    Tenant,
    /// The API key if present, else the user, else the IP address.
    Client,
}

/// Policies for one route, replacing the defaults there.
#[derive(Debug, Clone)]
pub struct RoutePolicy {
    /// Only requests with this method match; `None` matches every method. A method-specific
    /// entry wins over a `None` entry for the same route.
    pub method: Option<Method>,
    /// The matched axum route pattern, e.g. `"/auth/login"` or `"/agents/{id}"`.
    pub route: String,
    /// Whose budget requests to this route are charged to.
    pub scope: Scope,
    /// The policies checked together (an empty list leaves the route unlimited).
    pub policies: Vec<Policy>,
}

impl RoutePolicy {
    /// A route policy; `method: None` matches every method.
    pub fn new(
        method: Option<Method>,
        route: impl Into<String>,
        scope: Scope,
        policies: Vec<Policy>,
    ) -> Self {
        Self {
            method,
            route: route.into(),
            scope,
            policies,
        }
    }
}

/// Everything the limiter and its middleware need to know.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ENABLED` (default true). When false the middleware passes every request
    /// through untouched and `check()` always allows.
    pub enabled: bool,
    /// Policies for routes without an override, per client: 60/minute and 1000/hour by default
    /// (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_PER_HOUR`).
    pub default_policies: Vec<Policy>,
    /// Per-route overrides; each replaces the defaults for its route and has its own budget.
    pub routes: Vec<RoutePolicy>,
    /// Path prefixes never limited (matched on whole segments): `/health`, `/metrics`, `/docs`,
    /// `/openapi.json` by default.
    pub exempt_prefixes: Vec<String>,
    /// `RATE_LIMIT_TRUST_FORWARDED_FOR` (default false): take the client IP from the right-most
    /// `X-Forwarded-For` address, i.e. the one added by the proxy directly in front of the
    /// service. Enable only behind exactly one trusted proxy layer that sets or appends it.
    pub trust_forwarded_for: bool,
    /// Prefix of every Redis key (default `"tn"`); tests use a unique one.
    pub key_prefix: String,
    /// Bound on keys held per policy by the in-process fallback (default 100 000). Beyond it,
    /// new clients share one overflow budget until pruning frees room.
    pub local_max_keys: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_policies: vec![Policy::per_minute(60), Policy::per_hour(1000)],
            routes: Vec::new(),
            exempt_prefixes: ["/health", "/metrics", "/docs", "/openapi.json"]
                .map(String::from)
                .to_vec(),
            trust_forwarded_for: false,
            key_prefix: "tn".to_owned(),
            local_max_keys: 100_000,
        }
    }
}

/// A `RATE_LIMIT_*` variable holds a value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The variable is set to something unparsable.
    #[error("invalid {variable}={value:?}: expected {expected}")]
    Invalid {
        /// The environment variable at fault.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
}

impl RateLimitConfig {
    /// Defaults overridden by variables read through `lookup` (any source of the names; the
    /// service kit passes its layered configuration). Empty values count as unset.
    ///
    /// - `RATE_LIMIT_ENABLED`: `true|false|1|0|yes|no|on|off`
    /// - `RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_PER_HOUR`: non-negative integers; 0 drops that
    ///   default policy
    /// - `RATE_LIMIT_TRUST_FORWARDED_FOR`: boolean as above
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut config = Self::default();
        if let Some(value) = get("RATE_LIMIT_ENABLED") {
            config.enabled = parse_bool("RATE_LIMIT_ENABLED", &value)?;
        }
        if let Some(value) = get("RATE_LIMIT_TRUST_FORWARDED_FOR") {
            config.trust_forwarded_for = parse_bool("RATE_LIMIT_TRUST_FORWARDED_FOR", &value)?;
        }
        let per_minute = get("RATE_LIMIT_PER_MINUTE")
            .map(|value| parse_quota("RATE_LIMIT_PER_MINUTE", &value))
            .transpose()?
            .unwrap_or(60);
        let per_hour = get("RATE_LIMIT_PER_HOUR")
            .map(|value| parse_quota("RATE_LIMIT_PER_HOUR", &value))
            .transpose()?
            .unwrap_or(1000);
        config.default_policies = Self::default_policies(per_minute, per_hour);
        Ok(config)
    }

    /// The global default policies: `per_minute` and `per_hour` requests per client; a quota
    /// of 0 drops that policy.
    pub fn default_policies(per_minute: u32, per_hour: u32) -> Vec<Policy> {
        [Policy::per_minute(per_minute), Policy::per_hour(per_hour)]
            .into_iter()
            .filter(|policy| policy.quota > 0)
            .collect()
    }

    /// The override for a matched route and method, if any (method-specific entries first).
    pub fn route_policy(&self, method: &Method, route: &str) -> Option<&RoutePolicy> {
        let mut any_method = None;
        for candidate in self.routes.iter().filter(|rp| rp.route == route) {
            match &candidate.method {
                Some(m) if m == method => return Some(candidate),
                None if any_method.is_none() => any_method = Some(candidate),
                _ => {}
            }
        }
        any_method
    }

    /// Whether `path` is under one of the exempt prefixes (whole segments: `/health` covers
    /// `/health` and `/health/live`, not `/healthz`).
    pub fn is_exempt(&self, path: &str) -> bool {
        self.exempt_prefixes.iter().any(|prefix| {
            let prefix = prefix.trim_end_matches('/');
            match path.strip_prefix(prefix) {
                Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.is_empty(),
                None => false,
            }
        })
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            variable,
            value: value.to_owned(),
            expected: "a boolean (true/false, 1/0, yes/no, on/off)",
        }),
    }
}

fn parse_quota(variable: &'static str, value: &str) -> Result<u32, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        expected: "a non-negative integer number of requests",
    })
}
