//! Every setting of the platform can be written in the `TEMPONEST_CONFIG` file, and the
//! environment still wins over it: the standard names (`DATABASE_MAX_CONNECTIONS`, `RUST_LOG`,
//! `RATE_LIMIT_PER_MINUTE`, `PORT`, …) as well as the `TEMPONEST_*` ones. The layers are made
//! from an environment given to them (as the process's is, once), never by changing this
//! process's environment.

use std::time::Duration;

use temponest_platform::{Layers, PlatformConfig};
use temponest_telemetry::LogFormat;

/// A configuration file for one test; removed when dropped.
struct ConfigFile(std::path::PathBuf);

impl ConfigFile {
    fn new(name: &str, toml: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "temponest-layers-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, toml).unwrap();
        Self(path)
    }

    /// An environment naming this file, plus `vars`.
    fn env(&self, vars: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![(
            "TEMPONEST_CONFIG".to_owned(),
            self.0.to_str().unwrap().to_owned(),
        )];
        env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        env
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every setting that used to be read from the environment only.
const FILE: &str = r#"
[database]
max_connections = 12
min_connections = 3
acquire_timeout_ms = 250

[telemetry]
log_filter = "warn,temponest=debug"
log_format = "json"
otlp_endpoint = "http://collector:4318"
service_name = "agents-eu"

[rate_limit]
enabled = false
per_minute = 5
per_hour = 50
trust_forwarded_for = true

[server]
port = 9100
ports = [9200, 9203]
bind_address = "127.0.0.1"
"#;

fn platform(env: Vec<(String, String)>) -> PlatformConfig {
    Layers::from_environment(env).settings().unwrap()
}

fn quotas(platform: &PlatformConfig) -> Vec<u32> {
    let limits = platform.rate_limit.config();
    limits.default_policies.iter().map(|p| p.quota).collect()
}

#[test]
fn the_file_sets_every_setting_that_was_read_from_the_environment_only() {
    let file = ConfigFile::new("all", FILE);
    let platform = platform(file.env(&[]));

    let pool = temponest_db::DbConfig::for_service("agents", platform.database_url.expose())
        .with_settings(&platform.database)
        .unwrap();
    assert_eq!(
        (
            pool.max_connections,
            pool.min_connections,
            pool.acquire_timeout
        ),
        (12, 3, Duration::from_millis(250))
    );

    let telemetry = platform.telemetry.config("agents").unwrap();
    assert_eq!(
        telemetry.log_filter.as_deref(),
        Some("warn,temponest=debug")
    );
    assert_eq!(telemetry.log_format, LogFormat::Json);
    assert_eq!(
        telemetry.otlp_endpoint.as_deref(),
        Some("http://collector:4318")
    );
    assert_eq!(telemetry.service_name, "agents-eu");

    let limits = platform.rate_limit.config();
    assert!(!limits.enabled);
    assert!(limits.trust_forwarded_for);
    assert_eq!(quotas(&platform), vec![5, 50]);

    assert_eq!(platform.server.port, Some(9100));
    assert_eq!(platform.server.ports, vec![9200, 9203]);
    assert_eq!(platform.server.bind_address, "127.0.0.1");
}

#[test]
fn standard_variables_win_over_the_file() {
    let file = ConfigFile::new("standard", FILE);
    let platform = platform(file.env(&[
        ("DATABASE_MAX_CONNECTIONS", "20"),
        ("DATABASE_MIN_CONNECTIONS", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "900"),
        ("RUST_LOG", "error"),
        ("LOG_FORMAT", "pretty"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4318"),
        ("OTEL_SERVICE_NAME", "agents-us"),
        ("RATE_LIMIT_ENABLED", "yes"),
        ("RATE_LIMIT_PER_MINUTE", "7"),
        ("RATE_LIMIT_PER_HOUR", "0"),
        ("RATE_LIMIT_TRUST_FORWARDED_FOR", "off"),
        ("PORT", "9300"),
        ("TEMPONEST_PORTS", "9400, 9403"),
        ("BIND_ADDRESS", "::1"),
    ]));
    assert_eq!(
        (
            platform.database.max_connections,
            platform.database.min_connections,
            platform.database.acquire_timeout_ms
        ),
        (Some(20), Some(1), Some(900))
    );
    let telemetry = platform.telemetry.config("agents").unwrap();
    assert_eq!(telemetry.log_filter.as_deref(), Some("error"));
    assert_eq!(telemetry.log_format, LogFormat::Pretty);
    assert_eq!(
        telemetry.otlp_endpoint.as_deref(),
        Some("https://otel.example:4318")
    );
    assert_eq!(telemetry.service_name, "agents-us");
    let limits = platform.rate_limit.config();
    assert!(limits.enabled);
    assert!(!limits.trust_forwarded_for);
    assert_eq!(quotas(&platform), vec![7], "0 drops the hourly policy");
    assert_eq!(platform.server.port, Some(9300));
    assert_eq!(platform.server.ports, vec![9400, 9403]);
    assert_eq!(platform.server.bind_address, "::1");
}

#[test]
fn prefixed_variables_win_over_standard_ones_and_empty_standard_ones_are_unset() {
    let file = ConfigFile::new("prefixed", FILE);
    let platform = platform(file.env(&[
        ("RATE_LIMIT_PER_MINUTE", "7"),
        ("TEMPONEST_RATE_LIMIT__PER_MINUTE", "8"),
        ("RATE_LIMIT_PER_HOUR", ""),
        ("RUST_LOG", " "),
        ("REDIS_URL", ""),
    ]));
    assert_eq!(quotas(&platform), vec![8, 50]);
    assert_eq!(
        platform.telemetry.log_filter.as_deref(),
        Some("warn,temponest=debug"),
        "a blank RUST_LOG leaves the file's filter"
    );
    assert_eq!(
        platform.redis(),
        None,
        "an empty REDIS_URL still turns Redis off"
    );
}

#[test]
fn a_bad_value_is_refused_naming_where_it_came_from() {
    let file = ConfigFile::new("bad", "[rate_limit]\nper_minute = \"many\"\n");
    let err = Layers::from_environment(file.env(&[]))
        .settings::<PlatformConfig>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("rate_limit.per_minute"), "{err}");

    for (variable, value) in [
        ("RATE_LIMIT_PER_MINUTE", "lots"),
        ("RATE_LIMIT_ENABLED", "maybe"),
        ("DATABASE_MAX_CONNECTIONS", "-1"),
        ("PORT", "70000"),
        ("TEMPONEST_PORTS", "9000,x"),
        ("TEMPONEST_RATE_LIMIT__PER_HOUR", "lots"),
    ] {
        let err = Layers::from_environment(vec![(variable.to_owned(), value.to_owned())])
            .settings::<PlatformConfig>()
            .unwrap_err()
            .to_string();
        assert!(err.contains(variable), "{variable}={value}: {err}");
    }

    let err = Layers::from_environment(vec![("DATABASE_ACQUIRE_TIMEOUT_MS".into(), "0".into())])
        .settings::<PlatformConfig>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_ACQUIRE_TIMEOUT_MS"), "{err}");
    let platform = platform(vec![("LOG_FORMAT".into(), "bogus".into())]);
    let err = platform.telemetry.config("agents").unwrap_err().to_string();
    assert!(err.contains("LOG_FORMAT"), "{err}");
}

#[test]
fn the_new_keys_are_known_and_their_misspellings_are_refused_when_strict() {
    let file = ConfigFile::new("known", FILE);
    let layers = Layers::from_environment(file.env(&[("TEMPONEST_STRICT_CONFIG", "true")]));
    layers.settings::<PlatformConfig>().unwrap();
    layers.check_unknown().unwrap();

    let typo = ConfigFile::new("typo", "[rate_limit]\nper_minut = 5\n");
    let layers = Layers::from_environment(typo.env(&[
        ("TEMPONEST_STRICT_CONFIG", "true"),
        ("TEMPONEST_TELEMETRY__LOG_FORMATT", "json"),
    ]));
    layers.settings::<PlatformConfig>().unwrap();
    let err = layers.check_unknown().unwrap_err().to_string();
    assert!(err.contains("did you mean rate_limit.per_minute"), "{err}");
    assert!(
        err.contains("did you mean TEMPONEST_TELEMETRY__LOG_FORMAT"),
        "{err}"
    );
}

#[test]
fn docs_urls_are_read_verbatim_and_checked() {
    let platform = platform(vec![(
        "TEMPONEST_DOCS_URLS".into(),
        "auth=/openapi/auth.json,agents=/openapi/agents.json".into(),
    )]);
    assert_eq!(
        platform.docs_urls,
        "auth=/openapi/auth.json,agents=/openapi/agents.json"
    );
    let err = Layers::from_environment(vec![("TEMPONEST_DOCS_URLS".into(), "auth".into())])
        .settings::<PlatformConfig>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("TEMPONEST_DOCS_URLS"), "{err}");
}
