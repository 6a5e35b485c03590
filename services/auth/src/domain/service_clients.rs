//! Service clients and their secrets (`TEMPONEST_SERVICE_CLIENTS`): parsing and validation,
//! and the constant-time check of presented credentials behind `POST /auth/service-token`.
//! Only SHA-256 digests of the secrets are kept after start-up.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use temponest_auth_client::{permissions, secret_strength};

const SETTING: &str = "TEMPONEST_SERVICE_CLIENTS";

/// Why `TEMPONEST_SERVICE_CLIENTS` cannot be used. Messages name the setting and the client,
/// never the secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceClientsError {
    #[error("{SETTING}: expected comma-separated `name=secret` pairs")]
    NotPairs,
    #[error("{SETTING}: unknown service client `{0}` (known: {known})", known = known_clients())]
    UnknownClient(String),
    #[error("{SETTING}: the secret of `{name}` {weak}")]
    WeakSecret {
        name: String,
        weak: secret_strength::WeakSecret,
    },
    #[error("{SETTING}: service client `{0}` is listed twice")]
    Duplicate(String),
}

fn known_clients() -> String {
    let known: Vec<&str> = permissions::SERVICE_CLIENTS.iter().map(|c| c.0).collect();
    known.join(", ")
}

/// The configured service clients: name → SHA-256 of the secret.
#[derive(Clone, Default)]
pub struct ServiceClients {
    digests: HashMap<String, [u8; 32]>,
}

impl std::fmt::Debug for ServiceClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.digests.keys()).finish()
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl ServiceClients {
    /// Parses comma-separated `name=secret` pairs. Errors name the setting and the client,
    /// never the secret.
    pub fn parse(value: &str) -> Result<Self, ServiceClientsError> {
        let mut digests = HashMap::new();
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, secret)) = pair.split_once('=') else {
                return Err(ServiceClientsError::NotPairs);
            };
            let (name, secret) = (name.trim(), secret.trim());
            if permissions::service_scopes(name).is_none() {
                return Err(ServiceClientsError::UnknownClient(name.to_owned()));
            }
            // A guessable secret would let anyone mint service tokens for any tenant.
            if let Err(weak) = secret_strength::check(secret) {
                return Err(ServiceClientsError::WeakSecret {
                    name: name.to_owned(),
                    weak,
                });
            }
            if digests.insert(name.to_owned(), digest(secret)).is_some() {
                return Err(ServiceClientsError::Duplicate(name.to_owned()));
            }
        }
        Ok(Self { digests })
    }

    /// Whether `secret` is the configured secret of `client`. The digests are compared in
    /// constant time, and an unknown client costs the same work as a known one.
    pub fn verify(&self, client: &str, secret: &str) -> bool {
        let presented = digest(secret);
        let (known, expected) = match self.digests.get(client) {
            Some(expected) => (subtle::Choice::from(1), *expected),
            // Compared against the presented digest inverted: never equal.
            None => (subtle::Choice::from(0), presented.map(|b| !b)),
        };
        (known & presented.ct_eq(&expected)).into()
    }
}

/// The setting with every secret replaced, for `Debug` output.
pub fn redacted(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{}=[redacted]", name.trim()),
            None => "[redacted]".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "9f3c1a7be04d52e8c6b1f0a9d37e4c25";

    #[test]
    fn the_right_secret_of_a_known_client_verifies_and_nothing_else_does() {
        let clients = ServiceClients::parse(&format!(" scheduler = {SECRET} ")).unwrap();
        assert!(clients.verify("scheduler", SECRET));
        assert!(!clients.verify("scheduler", &SECRET[1..]));
        assert!(!clients.verify("root", SECRET));
        assert!(!ServiceClients::parse("").unwrap().verify("scheduler", ""));
    }

    #[test]
    fn short_secrets_unknown_clients_and_garbage_are_refused_without_echoing_secrets() {
        let short = ServiceClients::parse("scheduler=too-short-secret")
            .unwrap_err()
            .to_string();
        assert!(short.contains("TEMPONEST_SERVICE_CLIENTS") && short.contains("32"));
        assert!(!short.contains("too-short-secret"), "{short}");
        // The placeholder compose used to ship, and the Kubernetes example's.
        for placeholder in [
            "dev-only-scheduler-secret-not-for-production-000",
            "change-me-to-at-least-32-random-characters",
        ] {
            let err = ServiceClients::parse(&format!("scheduler={placeholder}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("placeholder"), "{err}");
            assert!(!err.contains(placeholder), "{err}");
        }
        let unknown = ServiceClients::parse(&format!("root={SECRET}"))
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("unknown service client `root`"),
            "{unknown}"
        );
        assert!(!unknown.contains(SECRET));
        assert!(ServiceClients::parse("scheduler").is_err());
    }

    #[test]
    fn redaction_keeps_names_and_drops_secrets() {
        assert_eq!(
            redacted(&format!("scheduler={SECRET}")),
            "scheduler=[redacted]"
        );
    }
}
