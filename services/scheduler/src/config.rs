//! Scheduler service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_AGENTS_URL`,
//! `TEMPONEST_SERVICE_CLIENT_SECRET`, `TEMPONEST_SCHEDULER__<FIELD>`; see
//! [`temponest_platform::config`]). Where Postgres, Redis and the auth service (which issues
//! the scheduler's service tokens) are is the platform's
//! ([`temponest_platform::PlatformConfig`]).

use serde::{Deserialize, Serialize};
use temponest_platform::{ConfigError, Secret, Settings};

/// Everything the scheduler service can be tuned with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Base URL of the agents service, whose execute API runs the schedules' tasks.
    pub agents_url: String,
    /// The scheduler's service identity at the auth service (`TEMPONEST_SERVICE_CLIENTS` there).
    pub service_client_id: String,
    pub service_client_secret: Secret,
    pub scheduler: EngineConfig,
    /// Heartbeat of this process's instances and when a silent peer counts as dead.
    pub liveness: temponest_db::instances::Liveness,
}

/// How the firing engine runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Run the engine (firing, runs, rescue) in this process; off = API only.
    pub run_engine: bool,
    /// Due schedules claimed per transaction.
    pub batch_size: i64,
    /// Executions running at once in this process.
    pub max_concurrent_runs: usize,
    /// The longest the engine sleeps when nothing is due and nothing woke it (it sleeps
    /// exactly until the next due time otherwise, and wakes on NOTIFY at once).
    pub poll_interval_ms: u64,
    /// A fire time this much past due when the engine sees it counts as missed (downtime) and
    /// follows the schedule's misfire policy; later than due but within it just runs late.
    pub misfire_grace_secs: u64,
    /// A running execution's lease: renewed by heartbeats, taken over after it lapses.
    pub lease_secs: u64,
    pub heartbeat_secs: u64,
    /// At shutdown, how long running executions may finish before they are released.
    pub shutdown_grace_secs: u64,
    /// Timeout of a call to the agents service that is not a run (lookups, cancel).
    pub request_timeout_secs: u64,
    /// Finished executions and skipped/missed fire times older than this are deleted
    /// (0 keeps them forever).
    pub retention_days: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            run_engine: true,
            batch_size: 500,
            max_concurrent_runs: 256,
            poll_interval_ms: 10_000,
            misfire_grace_secs: 60,
            lease_secs: 30,
            heartbeat_secs: 10,
            shutdown_grace_secs: 20,
            request_timeout_secs: 10,
            retention_days: 30,
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            agents_url: "http://127.0.0.1:9000".to_owned(),
            service_client_id: "scheduler".to_owned(),
            service_client_secret: Secret::default(),
            scheduler: EngineConfig::default(),
            liveness: temponest_db::instances::Liveness::default(),
        }
    }
}

impl Settings for SchedulerConfig {
    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        self.liveness.validate().map_err(ConfigError::invalid)?;
        let e = &self.scheduler;
        let checks: [(bool, &str); 6] = [
            (
                e.batch_size >= 1,
                "TEMPONEST_SCHEDULER__BATCH_SIZE must be at least 1",
            ),
            (
                e.max_concurrent_runs >= 1,
                "TEMPONEST_SCHEDULER__MAX_CONCURRENT_RUNS must be at least 1",
            ),
            (
                e.poll_interval_ms >= 10,
                "TEMPONEST_SCHEDULER__POLL_INTERVAL_MS must be at least 10",
            ),
            (
                e.heartbeat_secs >= 1 && e.lease_secs > e.heartbeat_secs * 2,
                "TEMPONEST_SCHEDULER__LEASE_SECS must exceed twice HEARTBEAT_SECS (at least 1)",
            ),
            (
                url::Url::parse(&self.agents_url).is_ok(),
                "TEMPONEST_AGENTS_URL must be an absolute URL such as http://agents:9000",
            ),
            (
                !self.service_client_secret.expose().is_empty(),
                "TEMPONEST_SERVICE_CLIENT_SECRET must be set: the scheduler calls the agents service (to check agents and run tasks) with the service identity whose secret is the auth service's TEMPONEST_SERVICE_CLIENTS entry `scheduler=...`",
            ),
        ];
        if let Some((_, message)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(ConfigError::invalid(message));
        }
        temponest_auth_client::secret_strength::check(self.service_client_secret.expose())
            .map_err(|weak| ConfigError::invalid(format!("TEMPONEST_SERVICE_CLIENT_SECRET {weak}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "b2a4f7c19e0d83a65f1c7e2b9d04a836e7f1c2b5a9d0e3f4";

    fn with_secret() -> SchedulerConfig {
        SchedulerConfig {
            service_client_secret: SECRET.into(),
            ..SchedulerConfig::default()
        }
    }

    #[test]
    fn the_service_secret_is_required_and_named() {
        let err = SchedulerConfig::default()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("TEMPONEST_SERVICE_CLIENT_SECRET"), "{err}");
        assert!(with_secret().validate().is_ok());
    }

    #[test]
    fn a_placeholder_or_guessable_service_secret_is_refused() {
        for weak in [
            "dev-only-scheduler-secret-not-for-production-000",
            "change-me-to-at-least-32-random-characters",
            &"x".repeat(40),
        ] {
            let config = SchedulerConfig {
                service_client_secret: weak.into(),
                ..SchedulerConfig::default()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("TEMPONEST_SERVICE_CLIENT_SECRET"), "{err}");
            assert!(!err.contains(weak), "{err}");
        }
    }

    #[test]
    fn impossible_engine_settings_are_refused_by_name() {
        /// A change that makes the configuration impossible, and the variable it names.
        type Case = (fn(&mut SchedulerConfig), &'static str);
        let cases: [Case; 3] = [
            (
                |c| {
                    c.scheduler.lease_secs = 10;
                    c.scheduler.heartbeat_secs = 10;
                },
                "LEASE_SECS",
            ),
            (
                |c| c.agents_url = "not a url".to_owned(),
                "TEMPONEST_AGENTS_URL",
            ),
            (|c| c.scheduler.batch_size = 0, "BATCH_SIZE"),
        ];
        for (spoil, variable) in cases {
            let mut config = with_secret();
            spoil(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(variable), "{variable}: {err}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", with_secret());
        assert!(!shown.contains(SECRET), "{shown}");
    }
}
