//! The console's settings (top-level keys of the platform's layered configuration, so
//! `TEMPONEST_CONSOLE_API_URL` and friends set them).

use serde::{Deserialize, Serialize};
use temponest_platform::{ConfigError, Settings};
use temponest_sealing::KeyText;

/// How the console reaches the platform and protects its session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsoleConfig {
    /// Base URL of the platform's public API that every page calls
    /// (`TEMPONEST_CONSOLE_API_URL`); `temponest serve` points it at its own first port.
    #[serde(rename = "console_api_url")]
    pub api_url: String,
    /// Base64 of 32 random bytes sealing the session cookie (`TEMPONEST_CONSOLE_COOKIE_KEY`).
    /// Empty: a random key per process, so sessions end at a restart and do not span
    /// replicas (a warning at start-up).
    #[serde(rename = "console_cookie_key")]
    pub cookie_key: KeyText,
    /// Always mark the cookie `Secure` (`TEMPONEST_CONSOLE_SECURE_COOKIES`), for a TLS proxy
    /// in front that does not send `X-Forwarded-Proto: https`.
    #[serde(rename = "console_secure_cookies")]
    pub secure_cookies: bool,
    /// How long a console session lasts without activity (`TEMPONEST_CONSOLE_SESSION_TTL_SECS`);
    /// the refresh token's own lifetime still applies.
    #[serde(rename = "console_session_ttl_secs")]
    pub session_ttl_secs: u64,
    /// Per-request timeout of the console's calls to the API (`TEMPONEST_CONSOLE_API_TIMEOUT_SECS`).
    #[serde(rename = "console_api_timeout_secs")]
    pub api_timeout_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            api_url: "http://127.0.0.1:9000".to_owned(),
            cookie_key: KeyText::default(),
            secure_cookies: false,
            session_ttl_secs: 12 * 3600,
            api_timeout_secs: 30,
        }
    }
}

impl Settings for ConsoleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let url = reqwest::Url::parse(&self.api_url).map_err(|e| {
            ConfigError::invalid(format!("TEMPONEST_CONSOLE_API_URL: not a URL ({e})"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::invalid(
                "TEMPONEST_CONSOLE_API_URL must be an http or https URL",
            ));
        }
        temponest_sealing::Sealer::new(self.cookie_key.expose(), "")
            .map_err(|e| ConfigError::invalid(format!("TEMPONEST_CONSOLE_COOKIE_KEY: {e}")))?;
        if self.session_ttl_secs < 60 {
            return Err(ConfigError::invalid(
                "TEMPONEST_CONSOLE_SESSION_TTL_SECS must be at least 60",
            ));
        }
        if self.api_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "TEMPONEST_CONSOLE_API_TIMEOUT_SECS must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temponest_platform::Layers;

    #[test]
    fn settings_come_from_console_prefixed_keys_and_bad_values_name_the_variable() {
        let config: ConsoleConfig = Layers::none()
            .with_toml("console_api_url = \"http://api:9000\"\nconsole_secure_cookies = true")
            .settings()
            .unwrap();
        assert_eq!(config.api_url, "http://api:9000");
        assert!(config.secure_cookies);
        let refusal = |toml: &str| {
            Layers::none()
                .with_toml(toml)
                .settings::<ConsoleConfig>()
                .unwrap_err()
                .to_string()
        };
        let err = refusal("console_api_url = \"ftp://x\"");
        assert!(err.contains("TEMPONEST_CONSOLE_API_URL"), "{err}");
        let err = refusal("console_cookie_key = \"c2hvcnQ=\"");
        assert!(err.contains("TEMPONEST_CONSOLE_COOKIE_KEY"), "{err}");
        let shown = format!(
            "{:?}",
            ConsoleConfig {
                cookie_key: KeyText("secret-material".into()),
                ..ConsoleConfig::default()
            }
        );
        assert!(!shown.contains("secret-material"), "{shown}");
    }
}
