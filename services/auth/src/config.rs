//! Auth service configuration: defaults that work on a developer machine, overridable
//! through the platform's layers (`TEMPONEST_CONFIG` file, `TEMPONEST_<FIELD>`, e.g.
//! `TEMPONEST_SERVICE_CLIENTS`; see [`temponest_platform::config`]). Where Postgres and Redis
//! are is the platform's ([`temponest_platform::PlatformConfig`]).

use serde::{Deserialize, Serialize};
use temponest_platform::{ConfigError, Settings};
use temponest_sealing::KeyText;

/// Everything the auth service can be tuned with.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Access-token lifetime (SPEC: 15 min).
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// Concurrent refreshes of one token within this window get the same successor.
    pub refresh_reuse_grace_secs: i64,
    /// Login attempts per minute per client IP and account.
    pub login_per_minute: u32,
    /// Registrations per hour per client IP.
    pub register_per_hour: u32,
    /// Consecutive failures before an account (email) is locked.
    pub lockout_threshold: i32,
    /// First lockout duration; each further lockout doubles it up to `lockout_max_secs`.
    pub lockout_base_secs: i64,
    pub lockout_max_secs: i64,
    /// Concurrent argon2 computations (0 = number of CPUs).
    pub max_concurrent_hashes: usize,
    /// How long a login may wait for a hashing slot before it is answered 503.
    pub hash_queue_timeout_ms: u64,
    /// The token signing key is replaced when it reaches this age (0 disables automatic
    /// rotation). Retired keys stay published until their tokens have expired.
    pub signing_key_rotation_days: u32,
    /// argon2id parameters (OWASP: m = 19 MiB, t = 2, p = 1).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Service clients allowed to obtain service tokens, as comma-separated `name=secret`
    /// pairs (`TEMPONEST_SERVICE_CLIENTS`); names must be known clients
    /// ([`temponest_auth_client::permissions::SERVICE_CLIENTS`]), secrets at least 32
    /// characters. Empty (the default) disables service tokens.
    pub service_clients: String,
    /// Service-token lifetime (at most the access-token TTL, so key rotation keeps them valid).
    pub service_token_ttl_secs: i64,
    /// Base64 of 32 random bytes (`TEMPONEST_SECRET_KEY`): token signing keys and server
    /// secrets are stored sealed under it ([`crate::domain::at_rest`]). Empty: stored as they
    /// are (a warning at start-up).
    pub secret_key: KeyText,
    /// The key before a rotation (`TEMPONEST_PREVIOUS_SECRET_KEY`): what it sealed still
    /// opens and is re-sealed under `secret_key` at start-up.
    pub previous_secret_key: KeyText,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_reuse_grace_secs: 10,
            login_per_minute: 5,
            register_per_hour: 3,
            lockout_threshold: 5,
            lockout_base_secs: 30,
            lockout_max_secs: 15 * 60,
            max_concurrent_hashes: 0,
            hash_queue_timeout_ms: 2000,
            signing_key_rotation_days: 30,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            service_clients: String::new(),
            service_token_ttl_secs: 300,
            secret_key: KeyText::default(),
            previous_secret_key: KeyText::default(),
        }
    }
}

impl Settings for AuthConfig {
    fn read_verbatim(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        // Verbatim: the layered loader would parse a value that looks like a list or a
        // number instead of keeping the string.
        if let Some(clients) = env("TEMPONEST_SERVICE_CLIENTS") {
            self.service_clients = clients;
        }
    }

    /// Rejects settings that cannot work, naming the setting.
    fn validate(&self) -> Result<(), ConfigError> {
        crate::domain::service_clients::ServiceClients::parse(&self.service_clients)
            .map_err(ConfigError::invalid)?;
        temponest_sealing::Sealer::new(self.secret_key.expose(), self.previous_secret_key.expose())
            .map_err(|e| {
                ConfigError::invalid(format!("{}: {e}", crate::domain::at_rest::SETTINGS))
            })?;
        let checks: [(bool, &str); 6] = [
            (
                self.access_token_ttl_secs >= 60,
                "TEMPONEST_ACCESS_TOKEN_TTL_SECS must be at least 60",
            ),
            (
                self.refresh_token_ttl_secs > self.access_token_ttl_secs,
                "TEMPONEST_REFRESH_TOKEN_TTL_SECS must exceed the access-token TTL",
            ),
            (
                self.lockout_threshold >= 1,
                "TEMPONEST_LOCKOUT_THRESHOLD must be at least 1",
            ),
            (
                self.argon2_memory_kib >= 8 * 1024,
                "TEMPONEST_ARGON2_MEMORY_KIB must be at least 8192",
            ),
            (
                self.login_per_minute >= 1 && self.register_per_hour >= 1,
                "TEMPONEST_LOGIN_PER_MINUTE and TEMPONEST_REGISTER_PER_HOUR must be at least 1",
            ),
            (
                (60..=self.access_token_ttl_secs).contains(&self.service_token_ttl_secs),
                "TEMPONEST_SERVICE_TOKEN_TTL_SECS must be between 60 and the access-token TTL",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(ConfigError::invalid(message)),
            None => Ok(()),
        }
    }
}

impl AuthConfig {
    /// Cheaper argon2 parameters (8 MiB, one pass) for test suites and throwaway local
    /// stacks; production keeps the OWASP defaults.
    pub fn with_fast_hashing(mut self) -> Self {
        self.argon2_memory_kib = 8 * 1024;
        self.argon2_iterations = 1;
        self
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_secs", &self.refresh_token_ttl_secs)
            .field("lockout_threshold", &self.lockout_threshold)
            .field(
                "service_clients",
                &crate::domain::service_clients::redacted(&self.service_clients),
            )
            .field("service_token_ttl_secs", &self.service_token_ttl_secs)
            .field("secret_key", &self.secret_key)
            .finish_non_exhaustive()
    }
}
