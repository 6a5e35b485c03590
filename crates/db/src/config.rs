//! Pool configuration with per-service defaults taken from the seed performance guides.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temponest_secrets::SecretUrl;

/// Everything needed to build a service's Postgres pool.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `postgres://` URL. Contains credentials, so its password is redacted in `Debug`.
    pub url: SecretUrl,
    /// Name used as the `pool` label on metrics.
    pub pool_name: String,
    pub min_connections: u32,
    pub max_connections: u32,
    /// How long a request waits for a connection before failing with 503 (`Retry-After`):
    /// a free one, or a new one while Postgres is unreachable — a refused connect is
    /// retried and a black-holed one hangs until then, so this is also how long each request
    /// waits during an outage.
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
    /// Connections are recycled after this long (the seeds recycle after N queries).
    pub max_lifetime: Duration,
    /// Server-side `statement_timeout` for every connection.
    pub statement_timeout: Duration,
    /// Statements slower than this are logged at warn level.
    pub slow_statement_threshold: Duration,
}

/// The default database for a developer machine.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/temponest";

/// The default [`DbConfig::acquire_timeout`]: a healthy pool hands out a connection in
/// microseconds, so waiting longer only delays the 503 of an outage (requests used to hang
/// 4–5 s each with Postgres stopped).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

impl DbConfig {
    /// Defaults for a named service: the seeds size pools per service (agents 15–100,
    /// auth 10–50, scheduler 5–20). Rust needs far fewer connections for the same load, so
    /// the maxima are kept but minima are small to keep idle footprint low.
    pub fn for_service(service: &str, url: impl Into<String>) -> Self {
        let (min, max) = match service {
            "agents" => (4, 100),
            // Every service in one process, usually on a developer machine whose Postgres
            // allows 100 connections in all: leave room for tools and other processes.
            "temponest" => (4, 60),
            "auth" => (2, 50),
            "scheduler" | "webhooks" => (2, 20),
            _ => (1, 10),
        };
        Self {
            url: SecretUrl(url.into()),
            pool_name: service.to_owned(),
            min_connections: min,
            max_connections: max,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            idle_timeout: Duration::from_secs(300),
            max_lifetime: Duration::from_secs(1800),
            statement_timeout: Duration::from_secs(30),
            slow_statement_threshold: Duration::from_secs(1),
        }
    }
}

/// The pool settings an operator may change (`[database]` in the configuration file, or
/// `DATABASE_MAX_CONNECTIONS`, `DATABASE_MIN_CONNECTIONS`, `DATABASE_ACQUIRE_TIMEOUT_MS`);
/// unset ones keep the service's defaults ([`DbConfig::for_service`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolSettings {
    /// Pool size of this process (operators size pools to their Postgres `max_connections`
    /// and replica count).
    pub max_connections: Option<u32>,
    pub min_connections: Option<u32>,
    /// [`DbConfig::acquire_timeout`] in milliseconds (above 0).
    pub acquire_timeout_ms: Option<u64>,
}

impl DbConfig {
    /// Applies the operator's pool settings over the service's defaults, refusing values
    /// that cannot work (the error names the variable and the file key).
    pub fn with_settings(mut self, settings: &PoolSettings) -> Result<Self, DbSettingError> {
        if let Some(ms) = settings.acquire_timeout_ms {
            if ms == 0 {
                return Err(DbSettingError::AcquireTimeout);
            }
            self.acquire_timeout = Duration::from_millis(ms);
        }
        if let Some(max) = settings.max_connections {
            self.max_connections = max;
        }
        if let Some(min) = settings.min_connections {
            self.min_connections = min;
        }
        if self.max_connections == 0 || self.min_connections > self.max_connections {
            return Err(DbSettingError::PoolBounds {
                min: self.min_connections,
                max: self.max_connections,
            });
        }
        Ok(self)
    }
}

/// A pool setting that cannot be used; the message names the variable and the file key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbSettingError {
    #[error(
        "DATABASE_ACQUIRE_TIMEOUT_MS (database.acquire_timeout_ms) must be a whole number of \
         milliseconds above 0"
    )]
    AcquireTimeout,
    #[error(
        "DATABASE_MAX_CONNECTIONS (database.max_connections) must be at least 1 and not below \
         DATABASE_MIN_CONNECTIONS (database.min_connections); got max {max}, min {min}"
    )]
    PoolBounds { min: u32, max: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_debug_output() {
        let config = DbConfig::for_service("auth", "postgres://app:s3cret@db:5432/tn");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/tn"), "{shown}");
    }

    #[test]
    fn the_acquire_timeout_is_short_by_default() {
        for service in ["agents", "auth", "scheduler", "webhooks", "temponest"] {
            let config = DbConfig::for_service(service, DEFAULT_DATABASE_URL);
            assert!(
                config.acquire_timeout <= Duration::from_secs(1),
                "{service}"
            );
        }
    }

    #[test]
    fn pool_settings_replace_the_service_defaults_and_bad_ones_are_refused() {
        let settings = PoolSettings {
            max_connections: Some(7),
            min_connections: Some(3),
            acquire_timeout_ms: Some(250),
        };
        let config = DbConfig::for_service("agents", DEFAULT_DATABASE_URL)
            .with_settings(&settings)
            .unwrap();
        assert_eq!(
            (
                config.max_connections,
                config.min_connections,
                config.acquire_timeout
            ),
            (7, 3, Duration::from_millis(250))
        );
        let unset = DbConfig::for_service("auth", DEFAULT_DATABASE_URL)
            .with_settings(&PoolSettings::default())
            .unwrap();
        assert_eq!((unset.min_connections, unset.max_connections), (2, 50));

        let refusal = |settings: PoolSettings| {
            DbConfig::for_service("auth", DEFAULT_DATABASE_URL)
                .with_settings(&settings)
                .unwrap_err()
                .to_string()
        };
        let err = refusal(PoolSettings {
            acquire_timeout_ms: Some(0),
            ..PoolSettings::default()
        });
        assert!(err.contains("DATABASE_ACQUIRE_TIMEOUT_MS"), "{err}");
        let err = refusal(PoolSettings {
            max_connections: Some(2),
            min_connections: Some(5),
            ..PoolSettings::default()
        });
        assert!(err.contains("database.max_connections"), "{err}");
    }

    #[test]
    fn urls_without_password_are_unchanged() {
        let config = DbConfig::for_service("auth", DEFAULT_DATABASE_URL);
        assert!(format!("{config:?}").contains(DEFAULT_DATABASE_URL));
    }
}
