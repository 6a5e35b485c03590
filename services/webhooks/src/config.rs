//! Webhooks service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_WEBHOOKS__<FIELD>`,
//! `WEBHOOKS_ALLOWED_NETWORKS`; see [`temponest_platform::config`]). Where Postgres, Redis and
//! the auth service are is the platform's ([`temponest_platform::PlatformConfig`]).

use serde::{Deserialize, Serialize};
use temponest_platform::{ConfigError, Settings};

/// Everything the webhooks service can be tuned with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhooksConfig {
    pub webhooks: DeliveryConfig,
    /// Heartbeat of this process's instances and when a silent peer counts as dead.
    pub liveness: temponest_db::instances::Liveness,
}

pub use temponest_sealing::KeyText;

/// How deliveries are made.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryConfig {
    /// CIDRs deliveries may reach although loopback, private, link-local or metadata
    /// (comma-separated; empty = none). Also read from `WEBHOOKS_ALLOWED_NETWORKS`.
    pub allowed_networks: String,
    /// Per-attempt timeout.
    pub timeout_secs: u64,
    /// Response bodies are stored up to this many bytes.
    pub max_response_body_bytes: usize,
    /// A sender holds a claimed delivery this long; if it dies, another sender takes it over
    /// afterwards (same `webhook-id`).
    pub lease_secs: u64,
    /// Deliveries claimed per round.
    pub batch_size: i64,
    /// How often the dispatcher and the sender look for work when nothing woke them.
    pub poll_interval_ms: u64,
    /// In-flight attempts per endpoint and per tenant (per process).
    pub per_endpoint_concurrency: usize,
    pub per_tenant_concurrency: usize,
    /// Attempts per second per endpoint (0 = unlimited).
    pub per_endpoint_rate_per_sec: u32,
    /// An endpoint failing without a single success for this long is disabled.
    pub disable_after_failing_secs: u64,
    /// After a secret rotation the previous secret keeps signing this long.
    pub secret_rotation_grace_secs: u64,
    /// Base64 of 32 random bytes: signing secrets are stored sealed under it
    /// ([`crate::domain::sealing`]). Empty: stored as they are (a warning at start-up).
    pub secret_key: KeyText,
    /// The key before the last key rotation: secrets sealed under it still open, and are
    /// re-sealed under `secret_key` when their endpoint's secret is next written.
    pub previous_secret_key: KeyText,
    /// Run the dispatcher and sender in this process.
    pub run_engine: bool,
    /// Live endpoints one tenant may have (creating one more is a 409).
    pub max_endpoints_per_tenant: i64,
    /// Delivered deliveries (with their attempts) are deleted this many days after they were
    /// created (0 keeps them). Unfinished ones never are.
    pub retention_days: u32,
    /// The same for failed deliveries, kept longer for investigation.
    pub failed_retention_days: u32,
    /// Processed outbox events are deleted this many days after they were fanned out (0
    /// keeps them); pending ones never are.
    pub outbox_retention_days: u32,
    /// How often the engine looks for expired rows (at once again while a run is cut short
    /// by its batch cap).
    pub retention_interval_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            allowed_networks: String::new(),
            timeout_secs: 10,
            max_response_body_bytes: 4096,
            lease_secs: 60,
            batch_size: 100,
            poll_interval_ms: 1000,
            per_endpoint_concurrency: 16,
            per_tenant_concurrency: 64,
            per_endpoint_rate_per_sec: 0,
            disable_after_failing_secs: 5 * 24 * 3600,
            secret_rotation_grace_secs: 24 * 3600,
            secret_key: KeyText::default(),
            previous_secret_key: KeyText::default(),
            run_engine: true,
            max_endpoints_per_tenant: 100,
            retention_days: 30,
            failed_retention_days: 90,
            outbox_retention_days: 30,
            retention_interval_secs: 3600,
        }
    }
}

impl Settings for WebhooksConfig {
    fn read_verbatim(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        // Verbatim: the layered loader would parse a comma-separated list into an array.
        if let Some(networks) = env("WEBHOOKS_ALLOWED_NETWORKS") {
            self.webhooks.allowed_networks = networks;
        }
    }

    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        self.liveness.validate().map_err(ConfigError::invalid)?;
        temponest_netguard::NetPolicy::parse(&self.webhooks.allowed_networks)
            .map_err(|e| ConfigError::invalid(format!("WEBHOOKS_ALLOWED_NETWORKS: {e}")))?;
        crate::domain::sealing::from_config(&self.webhooks).map_err(ConfigError::invalid)?;
        let d = &self.webhooks;
        let checks: [(bool, &str); 6] = [
            (
                d.timeout_secs >= 1,
                "TEMPONEST_WEBHOOKS__TIMEOUT_SECS must be at least 1",
            ),
            (
                d.lease_secs > d.timeout_secs,
                "TEMPONEST_WEBHOOKS__LEASE_SECS must exceed the attempt timeout",
            ),
            (
                d.batch_size >= 1,
                "TEMPONEST_WEBHOOKS__BATCH_SIZE must be at least 1",
            ),
            (
                d.per_endpoint_concurrency >= 1,
                "TEMPONEST_WEBHOOKS__PER_ENDPOINT_CONCURRENCY must be at least 1",
            ),
            (
                d.per_tenant_concurrency >= 1,
                "TEMPONEST_WEBHOOKS__PER_TENANT_CONCURRENCY must be at least 1",
            ),
            (
                d.retention_interval_secs >= 1,
                "TEMPONEST_WEBHOOKS__RETENTION_INTERVAL_SECS must be at least 1",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(ConfigError::invalid(message)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_key_is_checked_and_never_printed() {
        let mut config = WebhooksConfig::default();
        config.webhooks.secret_key.0 = "bm90IGEga2V5".to_owned(); // 9 bytes
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("TEMPONEST_WEBHOOKS__SECRET_KEY") && err.contains("32 bytes"));
        let key = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
        config.webhooks.secret_key.0 = key.to_owned();
        config.validate().unwrap();
        let printed = format!("{config:?}");
        assert!(
            !printed.contains(key) && printed.contains("<redacted>"),
            "{printed}"
        );
    }
}
