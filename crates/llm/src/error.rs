//! [`LlmError`]: why a provider call failed, worded for API users.
//!
//! The `Display` text ends up in an execution's `error` field, so every message names the
//! provider, says what to do where possible, and never contains an API key or a URL's
//! credentials.

/// Upper bound on the upstream error message kept in [`LlmError::Upstream`], in characters.
pub(crate) const MAX_UPSTREAM_MESSAGE_CHARS: usize = 500;

/// A failed provider call.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LlmError {
    /// The provider is unknown or lacks configuration (e.g. an API key); no request was sent.
    #[error("provider '{provider}' is not configured: {reason}")]
    Unconfigured {
        /// Provider name.
        provider: String,
        /// What is missing and how to fix it.
        reason: String,
    },
    /// The provider could not be reached (connection refused, DNS failure, connection lost),
    /// after retries where retrying was allowed.
    #[error("provider '{provider}' is unreachable: {detail}")]
    Unreachable {
        /// Provider name.
        provider: String,
        /// Where it tried to connect and the network error.
        detail: String,
    },
    /// The provider did not answer (or stopped sending a response) within the time limit.
    #[error("provider '{provider}' timed out: no response for {after_secs} s")]
    Timeout {
        /// Provider name.
        provider: String,
        /// The limit that was exceeded, in seconds.
        after_secs: u64,
    },
    /// The provider kept answering 429 (or asked to wait longer than the configured maximum
    /// backoff, or reported a rate-limit/overload error inside a stream).
    #[error("provider '{provider}' is rate limiting requests{}", retry_hint(*.retry_after_secs))]
    RateLimited {
        /// Provider name.
        provider: String,
        /// The provider's `Retry-After`, when it sent one.
        retry_after_secs: Option<u64>,
    },
    /// The provider answered with an error status (or an error object inside a 200 stream).
    #[error("provider '{provider}' returned HTTP {status}: {message}")]
    Upstream {
        /// Provider name.
        provider: String,
        /// HTTP status (for an error inside a stream: the status the error type stands for).
        status: u16,
        /// The provider's own error message when it could be parsed, else the start of the
        /// body; at most 500 characters.
        message: String,
    },
    /// The provider's response could not be understood.
    #[error("provider '{provider}' sent a malformed response: {detail}")]
    Malformed {
        /// Provider name.
        provider: String,
        /// What was wrong with it.
        detail: String,
    },
}

fn retry_hint(retry_after_secs: Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => format!(" (it asks to retry after {secs} s)"),
        None => String::new(),
    }
}

impl LlmError {
    /// A stable, machine-readable class: `unconfigured`, `unreachable`, `timeout`,
    /// `rate_limited`, `upstream` or `malformed` (also the `outcome` label of the
    /// `llm_requests_total` metric).
    pub fn class(&self) -> &'static str {
        match self {
            Self::Unconfigured { .. } => "unconfigured",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Upstream { .. } => "upstream",
            Self::Malformed { .. } => "malformed",
        }
    }

    /// The name of the provider the error is about.
    pub fn provider(&self) -> &str {
        match self {
            Self::Unconfigured { provider, .. }
            | Self::Unreachable { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::RateLimited { provider, .. }
            | Self::Upstream { provider, .. }
            | Self::Malformed { provider, .. } => provider,
        }
    }

    /// Shorthand for [`LlmError::Malformed`].
    pub(crate) fn malformed(provider: &str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            provider: provider.to_owned(),
            detail: detail.into(),
        }
    }

    /// Shorthand for [`LlmError::Upstream`]; truncates `message`.
    pub(crate) fn upstream(provider: &str, status: u16, message: &str) -> Self {
        Self::Upstream {
            provider: provider.to_owned(),
            status,
            message: truncate(message.trim(), MAX_UPSTREAM_MESSAGE_CHARS),
        }
    }
}

/// The first `max` characters of `text`, with an ellipsis when something was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("", 3), "");
    }

    #[test]
    fn messages_name_the_provider() {
        let error = LlmError::RateLimited {
            provider: "openai".into(),
            retry_after_secs: Some(30),
        };
        assert_eq!(
            error.to_string(),
            "provider 'openai' is rate limiting requests (it asks to retry after 30 s)"
        );
        assert_eq!(error.class(), "rate_limited");
        assert_eq!(error.provider(), "openai");
        let long = "x".repeat(600);
        match LlmError::upstream("p", 400, &long) {
            LlmError::Upstream { message, .. } => assert_eq!(message.chars().count(), 501),
            other => panic!("unexpected {other:?}"),
        }
    }
}
