//! The environment layer: one snapshot of the process environment, read as two figment
//! providers.
//!
//! - [`Standard`]: the standard variables ([`STANDARD_VARS`]: `DATABASE_URL`, `RUST_LOG`,
//!   `RATE_LIMIT_PER_MINUTE`, `PORT`, …), each mapped to its configuration key
//!   (`rate_limit.per_minute`), so every one of them can be set in the configuration file as
//!   well. An empty value counts as unset, except for the two URLs (`REDIS_URL=` turns Redis
//!   off).
//! - [`Prefixed`]: every `TEMPONEST_*` variable, lower-cased, `__` separating sections
//!   (`TEMPONEST_SERVER__REQUEST_TIMEOUT_SECS` → `server.request_timeout_secs`).
//!
//! [`crate::Layers`] merges them in that order over the file: a `TEMPONEST_*` variable wins
//! over the standard name of the same setting, and both win over the file. Errors name the
//! variable a bad value came from (figment interpolates the key back to the name).

use std::sync::Arc;

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

/// How a standard variable's value becomes a setting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A string, kept even when empty (an empty `REDIS_URL` means "no Redis").
    Verbatim,
    /// A string; empty = unset.
    Text,
    /// A number or boolean (parsed like any variable); empty = unset.
    Parsed,
    /// A comma-separated list; empty = unset.
    List,
}

/// The standard variables, the configuration key each sets and how its value is read.
const STANDARD: &[(&str, &str, Form)] = &[
    ("DATABASE_URL", "database_url", Form::Verbatim),
    ("REDIS_URL", "redis_url", Form::Verbatim),
    (
        "DATABASE_MAX_CONNECTIONS",
        "database.max_connections",
        Form::Parsed,
    ),
    (
        "DATABASE_MIN_CONNECTIONS",
        "database.min_connections",
        Form::Parsed,
    ),
    (
        "DATABASE_ACQUIRE_TIMEOUT_MS",
        "database.acquire_timeout_ms",
        Form::Parsed,
    ),
    ("RUST_LOG", "telemetry.log_filter", Form::Text),
    ("LOG_FORMAT", "telemetry.log_format", Form::Text),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "telemetry.otlp_endpoint",
        Form::Text,
    ),
    ("OTEL_SERVICE_NAME", "telemetry.service_name", Form::Text),
    ("RATE_LIMIT_ENABLED", "rate_limit.enabled", Form::Parsed),
    (
        "RATE_LIMIT_PER_MINUTE",
        "rate_limit.per_minute",
        Form::Parsed,
    ),
    ("RATE_LIMIT_PER_HOUR", "rate_limit.per_hour", Form::Parsed),
    (
        "RATE_LIMIT_TRUST_FORWARDED_FOR",
        "rate_limit.trust_forwarded_for",
        Form::Parsed,
    ),
    ("PORT", "server.port", Form::Parsed),
    ("BIND_ADDRESS", "server.bind_address", Form::Text),
    ("TEMPONEST_PORTS", "server.ports", Form::List),
];

/// The standard variables and the configuration key each one sets (`docs/configuration.md`
/// has the table).
pub fn standard_vars() -> impl Iterator<Item = (&'static str, &'static str)> {
    STANDARD.iter().map(|(name, key, _)| (*name, *key))
}

/// A snapshot of environment variables (the process's, or a test's).
pub(crate) type Vars = Arc<Vec<(String, String)>>;

/// The standard variables of a snapshot, at their configuration keys.
pub(crate) struct Standard(pub(crate) Vars);

impl Provider for Standard {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            // An element of a list (`server.ports.1`) came from the list's variable.
            STANDARD
                .iter()
                .find(|(_, k, _)| key == *k || key.starts_with(&format!("{k}.")))
                .map_or(key, |(name, _, _)| (*name).to_owned())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (name, key, form) in STANDARD {
            let Some((_, raw)) = self.0.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if raw.trim().is_empty() && *form != Form::Verbatim {
                continue;
            }
            let value = match form {
                Form::Verbatim => Value::from(raw.clone()),
                Form::Text => Value::from(raw.trim().to_owned()),
                Form::Parsed => parse(raw),
                Form::List => Value::from(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(parse)
                        .collect::<Vec<_>>(),
                ),
            };
            insert(&mut dict, key, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// The `TEMPONEST_*` variables of a snapshot (`__` nests), as figment's prefixed `Env` reads
/// them.
pub(crate) struct Prefixed(pub(crate) Vars);

impl Provider for Prefixed {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_: &Profile, keys: &[&str]| {
            format!("TEMPONEST_{}", keys.join("__").to_ascii_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (name, raw) in self.0.iter() {
            let Some(rest) = name.strip_prefix("TEMPONEST_") else {
                continue;
            };
            let key = rest.trim().to_ascii_lowercase().replace("__", ".");
            if key.is_empty() || key.split('.').any(str::is_empty) {
                continue;
            }
            insert(&mut dict, &key, parse(raw));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// A variable's value as figment's `Env` reads it: booleans, numbers, arrays and dicts are
/// recognised, anything else is a string.
fn parse(raw: &str) -> Value {
    raw.parse()
        .unwrap_or_else(|never: std::convert::Infallible| match never {})
}

/// Sets `value` at the dotted `key` in `dict`, creating the sections on the way.
fn insert(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_owned(), value);
        }
        Some((section, rest)) => {
            let entry = dict
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
