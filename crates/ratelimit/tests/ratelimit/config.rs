//! Configuration defaults and the `RATE_LIMIT_*` variables.

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use temponest_ratelimit::{ConfigError, Policy, RateLimitConfig, RoutePolicy, Scope};

fn from_vars(vars: &[(&str, &str)]) -> Result<RateLimitConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    RateLimitConfig::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn defaults_follow_the_spec() {
    let config = from_vars(&[]).expect("defaults are valid");
    assert!(config.enabled);
    assert_eq!(
        config.default_policies,
        [Policy::per_minute(60), Policy::per_hour(1000)]
    );
    assert_eq!(config.default_policies[1].window, Duration::from_secs(3600));
    assert_eq!(
        config.exempt_prefixes,
        ["/health", "/metrics", "/docs", "/openapi.json"]
    );
    assert!(!config.trust_forwarded_for);
    assert_eq!(config.key_prefix, "tn");
    assert_eq!(config.local_max_keys, 100_000);
}

#[test]
fn environment_variables_override_the_defaults() {
    let config = from_vars(&[
        ("RATE_LIMIT_ENABLED", "false"),
        ("RATE_LIMIT_PER_MINUTE", "10"),
        ("RATE_LIMIT_PER_HOUR", " 0 "),
        ("RATE_LIMIT_TRUST_FORWARDED_FOR", "YES"),
    ])
    .expect("valid");
    assert!(!config.enabled);
    assert_eq!(
        config.default_policies,
        [Policy::per_minute(10)],
        "0 drops the hourly policy"
    );
    assert!(config.trust_forwarded_for);
    let empty = from_vars(&[("RATE_LIMIT_ENABLED", "")]).expect("empty means unset");
    assert!(empty.enabled);
}

#[test]
fn invalid_values_are_rejected_naming_the_variable() {
    for (variable, value) in [
        ("RATE_LIMIT_ENABLED", "maybe"),
        ("RATE_LIMIT_PER_MINUTE", "-1"),
        ("RATE_LIMIT_PER_HOUR", "lots"),
        ("RATE_LIMIT_TRUST_FORWARDED_FOR", "2"),
    ] {
        let error = from_vars(&[(variable, value)]).expect_err(variable);
        let message = error.to_string();
        assert!(
            message.contains(variable) && message.contains(value),
            "{message}"
        );
    }
}

#[test]
fn method_specific_route_policies_win_over_any_method_ones() {
    let config = RateLimitConfig {
        routes: vec![
            RoutePolicy::new(
                None,
                "/agents",
                Scope::Tenant,
                vec![Policy::per_minute(100)],
            ),
            RoutePolicy::new(
                Some(Method::POST),
                "/agents",
                Scope::User,
                vec![Policy::per_minute(5)],
            ),
        ],
        ..RateLimitConfig::default()
    };
    assert_eq!(
        config
            .route_policy(&Method::POST, "/agents")
            .map(|r| r.scope),
        Some(Scope::User)
    );
    assert_eq!(
        config
            .route_policy(&Method::GET, "/agents")
            .map(|r| r.scope),
        Some(Scope::Tenant)
    );
    assert!(config.route_policy(&Method::GET, "/agents/{id}").is_none());
}

#[test]
fn exemptions_match_whole_path_segments() {
    let config = RateLimitConfig::default();
    for path in [
        "/health",
        "/health/ready",
        "/metrics",
        "/docs/",
        "/openapi.json",
    ] {
        assert!(config.is_exempt(path), "{path}");
    }
    for path in ["/healthz", "/agents", "/openapi.jsonx", "/"] {
        assert!(!config.is_exempt(path), "{path}");
    }
}
