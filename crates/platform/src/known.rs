//! Unknown settings: a misspelled `TEMPONEST_*` variable or configuration-file key would
//! otherwise be ignored in silence and the default used.
//!
//! Every section a process extracts ([`crate::Layers::settings`]) records the keys its defaults
//! have; after start-up configuration, [`crate::Layers::check_unknown`] compares the
//! environment's `TEMPONEST_*` variables and the file's keys against them. Unknown ones are
//! logged as warnings naming the closest known setting, or refuse the start when
//! `TEMPONEST_STRICT_CONFIG=true` (the container images set it). Keys that belong to a service
//! this process does not run ([`ALL_KEYS`]: one environment or file may configure a whole
//! stack) and variables read directly ([`DIRECT_VARS`]) are known.

use std::collections::BTreeSet;

use figment::value::{Dict, Value};

use crate::ConfigError;

/// `TEMPONEST_*` variables read directly rather than through the layers.
pub const DIRECT_VARS: &[&str] = &[
    "TEMPONEST_CONFIG",
    "TEMPONEST_STRICT_CONFIG",
    // `server.ports`: read as a standard variable (a list), not as the key `ports`.
    "TEMPONEST_PORTS",
    "TEMPONEST_LOCAL_POSTGRES",
    "TEMPONEST_DATA_DIR",
    "TEMPONEST_USER_PASSWORD",
    // The command-line client's.
    "TEMPONEST_BASE_URL",
    "TEMPONEST_API_KEY",
    "TEMPONEST_AUTH_TOKEN",
    "TEMPONEST_PROFILE",
    "TEMPONEST_CONFIG_DIR",
];

/// The variables without the `TEMPONEST_` prefix that the binaries read: the standard names
/// of [`crate::environment::standard_vars`] and the verbatim ones (the runtime check leaves
/// unprefixed variables alone, deployment files are checked against this).
pub const OTHER_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_MIN_CONNECTIONS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "RUST_LOG",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "RATE_LIMIT_ENABLED",
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_PER_HOUR",
    "RATE_LIMIT_TRUST_FORWARDED_FOR",
    "PORT",
    "BIND_ADDRESS",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "WEBHOOKS_ALLOWED_NETWORKS",
];

/// The top-level keys of every service's settings (the union over the platform; a test in
/// `services/temponest` checks it against the services' defaults). A key of a service that is
/// not in this process is not reported there.
pub const ALL_KEYS: &[&str] = &[
    "access_token_ttl_secs",
    "agents_url",
    "argon2_iterations",
    "argon2_memory_kib",
    "argon2_parallelism",
    "auth_url",
    "collaboration",
    "console_api_timeout_secs",
    "console_api_url",
    "console_cookie_key",
    "console_secure_cookies",
    "console_session_ttl_secs",
    "database",
    "database_url",
    "default_provider",
    "docs_urls",
    "executions",
    "hash_queue_timeout_ms",
    "knowledge",
    "knowledge_url",
    "liveness",
    "lockout_base_secs",
    "lockout_max_secs",
    "lockout_threshold",
    "login_per_minute",
    "max_concurrent_hashes",
    "previous_secret_key",
    "providers",
    "rate_limit",
    "redis_key_prefix",
    "redis_url",
    "refresh_reuse_grace_secs",
    "refresh_token_ttl_secs",
    "register_per_hour",
    "scheduler",
    "secret_key",
    "server",
    "service_client_id",
    "service_client_secret",
    "service_clients",
    "service_token_ttl_secs",
    "signing_key_rotation_days",
    "telemetry",
    "tools",
    "webhooks",
];

/// The keys the sections of this process have.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Every key path (`executions.timeout_secs`), sections included.
    paths: BTreeSet<String>,
    /// Paths below which any name is valid (maps of named entries, e.g. `providers`).
    open: BTreeSet<String>,
}

impl Known {
    /// Records the keys of one section's defaults.
    pub(crate) fn record(&mut self, defaults: &Value, open: &[&str]) {
        if let Value::Dict(_, dict) = defaults {
            collect("", dict, &mut self.paths);
        }
        self.open.extend(open.iter().map(|s| (*s).to_owned()));
    }

    /// Every recorded key path.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.paths.iter().cloned().collect()
    }

    /// Whether `path` names a setting: a known path, a path below an open one, or a key of a
    /// service this process does not run.
    fn knows(&self, path: &str) -> bool {
        if self.paths.contains(path) {
            return true;
        }
        if self.open.iter().any(|open| {
            path.strip_prefix(open.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        }) {
            return true;
        }
        let top = path.split('.').next().unwrap_or(path);
        let here = self.paths.iter().any(|p| p.split('.').next() == Some(top));
        !here && ALL_KEYS.contains(&top)
    }

    /// The unknown `TEMPONEST_*` variables among `env` and the unknown keys of `file`, each
    /// with the closest known name when there is one.
    pub(crate) fn unknown(
        &self,
        env: impl Iterator<Item = String>,
        file: Option<&Dict>,
    ) -> Vec<String> {
        let mut found = Vec::new();
        for name in env {
            let Some(rest) = name.strip_prefix("TEMPONEST_") else {
                continue;
            };
            if DIRECT_VARS.contains(&name.as_str()) {
                continue;
            }
            let path = rest.to_lowercase().replace("__", ".");
            if !self.knows(&path) {
                let hint = self.closest(&path).map(|p| {
                    format!(
                        " (did you mean TEMPONEST_{}?)",
                        p.to_uppercase().replace('.', "__")
                    )
                });
                found.push(format!("variable {name}{}", hint.unwrap_or_default()));
            }
        }
        if let Some(file) = file {
            let mut paths = BTreeSet::new();
            collect("", file, &mut paths);
            for path in paths {
                // A section's own key is known when any key below it is.
                let leaf_or_known = self.knows(&path)
                    || self
                        .paths
                        .iter()
                        .any(|p| p.starts_with(&format!("{path}.")));
                if !leaf_or_known && !paths_above_unknown(&path, &found) {
                    let hint = self.closest(&path).map(|p| format!(" (did you mean {p}?)"));
                    found.push(format!("file key {path}{}", hint.unwrap_or_default()));
                }
            }
        }
        found
    }

    /// The known path nearest to `path` by edit distance, when it is near enough to be a typo.
    fn closest(&self, path: &str) -> Option<&str> {
        self.paths
            .iter()
            .map(|known| (distance(known, path), known))
            .filter(|(d, known)| *d <= 3.max(known.len() / 4))
            .min_by_key(|(d, _)| *d)
            .map(|(_, known)| known.as_str())
    }
}

/// Whether an unknown file key above `path` was already reported (report the section once).
fn paths_above_unknown(path: &str, found: &[String]) -> bool {
    found.iter().any(|f| {
        f.strip_prefix("file key ")
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|above| path.starts_with(&format!("{above}.")))
    })
}

/// Every key path of `dict` under `prefix`.
fn collect(prefix: &str, dict: &Dict, into: &mut BTreeSet<String>) {
    for (key, value) in dict {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Value::Dict(_, inner) = value {
            collect(&path, inner, into);
        }
        into.insert(path);
    }
}

/// Levenshtein distance over bytes (setting names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// What to do with unknown settings: warn, or refuse when `strict`.
pub(crate) fn report(unknown: Vec<String>, strict: bool) -> Result<(), ConfigError> {
    if unknown.is_empty() {
        return Ok(());
    }
    if strict {
        return Err(ConfigError::invalid(format!(
            "unknown settings (TEMPONEST_STRICT_CONFIG=true refuses them): {}",
            unknown.join("; ")
        )));
    }
    for setting in unknown {
        tracing::warn!("unknown setting ignored: {setting}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        let defaults = Value::serialize(serde_json::json!({
            "database_url": "",
            "executions": {"timeout_secs": 600, "heartbeat_secs": 10},
            "providers": {"openai": {"base_url": ""}},
        }))
        .unwrap();
        let mut known = Known::default();
        known.record(&defaults, &["providers"]);
        known
    }

    fn env(names: &[&str]) -> impl Iterator<Item = String> {
        names
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn misspelled_variables_are_found_with_the_setting_they_meant() {
        let unknown = known().unknown(
            env(&[
                "TEMPONEST_EXECUTIONS__TIMEOUT_SECS",
                "TEMPONEST_EXECUTIONS__TIMOUT_SECS",
                "TEMPONEST_PROVIDERS__MINE__BASE_URL",
                "TEMPONEST_PORTS",
                "TEMPONEST_WEBHOOKS__SECRET_KEY",
                "TEMPONEST_NOT_A_THING",
                "PATH",
            ]),
            None,
        );
        assert_eq!(
            unknown,
            vec![
                "variable TEMPONEST_EXECUTIONS__TIMOUT_SECS (did you mean \
                 TEMPONEST_EXECUTIONS__TIMEOUT_SECS?)"
                    .to_owned(),
                "variable TEMPONEST_NOT_A_THING".to_owned(),
            ],
            "a map's entries, direct variables and other services' keys are known"
        );
    }

    #[test]
    fn unknown_file_keys_are_reported_once_per_section() {
        let file = match Value::serialize(serde_json::json!({
            "executions": {"timeout_secs": 5, "hearbeat_secs": 1},
            "bogus": {"a": 1, "b": {"c": 2}},
        }))
        .unwrap()
        {
            Value::Dict(_, dict) => dict,
            _ => unreachable!(),
        };
        let unknown = known().unknown(env(&[]), Some(&file));
        assert_eq!(
            unknown,
            vec![
                "file key bogus".to_owned(),
                "file key executions.hearbeat_secs (did you mean executions.heartbeat_secs?)"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn every_standard_variable_is_known_to_the_deployment_check() {
        for (name, _) in crate::environment::standard_vars() {
            assert!(
                OTHER_VARS.contains(&name) || DIRECT_VARS.contains(&name),
                "{name}"
            );
        }
    }

    #[test]
    fn strict_refuses_and_lenient_warns() {
        assert!(report(vec![], true).is_ok());
        assert!(report(vec!["variable TEMPONEST_X".into()], false).is_ok());
        let err = report(vec!["variable TEMPONEST_X".into()], true).unwrap_err();
        assert!(err.to_string().contains("TEMPONEST_X"), "{err}");
    }
}
