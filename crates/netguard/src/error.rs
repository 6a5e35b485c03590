//! Error types: [`GuardError`] for refused destinations and bad input, [`SendError`] for
//! [`guarded_send`](crate::guarded_send), and [`guard_error`] to recognise a refusal inside a
//! `reqwest::Error` raised by the checking DNS resolver.

use std::error::Error as StdError;
use std::net::IpAddr;

use crate::BlockReason;

/// Why the guard refused a destination or its input.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum GuardError {
    /// The destination address is non-public and not in the allow-list.
    #[error("destination {ip} is not allowed ({reason})")]
    Blocked {
        /// The refused address.
        ip: IpAddr,
        /// Why it is refused.
        reason: BlockReason,
    },
    /// The URL is malformed or not acceptable for outbound use.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The host name could not be resolved (or resolved to nothing).
    #[error("could not resolve {host}: {detail}")]
    Resolve {
        /// The host that was looked up.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// An allow-list entry is neither a CIDR network nor an IP address.
    #[error("invalid allowed network '{0}'")]
    InvalidNetwork(String),
}

impl GuardError {
    /// `true` for [`GuardError::Blocked`]: the destination itself was refused.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Blocked { .. })
    }
}

/// Error of [`guarded_send`](crate::guarded_send).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The guard refused the request, either before sending (URL check) or during connection
    /// setup (the checking resolver refused what the host name resolved to).
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// The HTTP request itself failed (connect, TLS, timeout, ...).
    #[error("HTTP request failed: {0}")]
    Http(#[source] reqwest::Error),
}

impl SendError {
    /// The guard refusal, if this error is one.
    pub fn guard(&self) -> Option<&GuardError> {
        match self {
            Self::Guard(e) => Some(e),
            Self::Http(_) => None,
        }
    }
}

impl From<reqwest::Error> for SendError {
    /// Classifies a reqwest error: a refusal by the checking resolver becomes
    /// [`SendError::Guard`], anything else [`SendError::Http`].
    fn from(err: reqwest::Error) -> Self {
        match guard_error(&err) {
            Some(guard) => Self::Guard(guard),
            None => Self::Http(err),
        }
    }
}

/// Finds a [`GuardError`] in the `source()` chain of a reqwest error.
///
/// The resolver installed by [`NetPolicy::client_builder`](crate::NetPolicy::client_builder)
/// fails with a `GuardError`, which reqwest reports as a connect error; this recovers it so
/// callers can say "destination blocked" rather than "connection failed".
pub fn guard_error(err: &reqwest::Error) -> Option<GuardError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(guard) = e.downcast_ref::<GuardError>() {
            return Some(guard.clone());
        }
        current = e.source();
    }
    None
}
