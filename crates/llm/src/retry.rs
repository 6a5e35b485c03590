//! The retry policy: which failures are retried, how long to wait (full-jitter exponential
//! backoff, or the server's `Retry-After`), and when to give up.

use std::time::Duration;

use temponest_retry::{Backoff, Jitter};

use crate::{LlmError, ProviderConfig};

/// Statuses worth retrying: rate limiting, transient server trouble, Anthropic's 529
/// "overloaded".
pub(crate) const RETRY_STATUSES: [u16; 6] = [429, 500, 502, 503, 504, 529];

/// How one attempt failed, and whether another attempt may help.
pub(crate) struct Failure {
    pub(crate) error: LlmError,
    pub(crate) retryable: bool,
    /// The server's `Retry-After`, which replaces the computed backoff.
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// A failure another attempt cannot fix (or must not risk repeating).
    pub(crate) fn fatal(error: LlmError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    /// An error reported inside a 2xx body: retryable when it means overload or a transient
    /// server fault (whether text was already streamed is checked by the policy).
    pub(crate) fn from_error(error: LlmError) -> Self {
        let retryable = match &error {
            LlmError::RateLimited { .. } => true,
            LlmError::Upstream { status, .. } => RETRY_STATUSES.contains(status),
            _ => false,
        };
        Self {
            error,
            retryable,
            retry_after: None,
        }
    }
}

/// Retry settings of one provider.
pub(crate) struct RetryPolicy {
    max_retries: u32,
    base_ms: u64,
    max_ms: u64,
}

impl RetryPolicy {
    pub(crate) fn new(config: &ProviderConfig) -> Self {
        Self {
            max_retries: config.max_retries,
            base_ms: config.backoff_base_ms,
            max_ms: config.backoff_max_ms,
        }
    }

    /// After failed attempt number `attempt` (from 1): `Ok((wait, failure))` to retry after
    /// `wait`, or `Err` with the error to return. `delivered` says whether text already reached
    /// the caller's stream; a retry would repeat it, so then the error stands.
    pub(crate) fn next(
        &self,
        attempt: u32,
        failure: Failure,
        delivered: bool,
    ) -> Result<(Duration, Failure), LlmError> {
        let retries_done = attempt.saturating_sub(1);
        if !failure.retryable || delivered || retries_done >= self.max_retries {
            return Err(failure.error);
        }
        let wait = match failure.retry_after {
            Some(wait) if wait > Duration::from_millis(self.max_ms) => {
                return Err(asked_to_wait(failure.error, wait));
            }
            Some(wait) => wait,
            None => self.jittered(retries_done),
        };
        Ok((wait, failure))
    }

    /// Full jitter: uniform in `0..=min(base * 2^retry, max)`, so clients that failed
    /// together do not retry together.
    fn jittered(&self, retry: u32) -> Duration {
        Backoff::new(
            Duration::from_millis(self.base_ms),
            Duration::from_millis(self.max_ms),
            Jitter::Full,
        )
        .delay(retry)
    }
}

/// The error for a `Retry-After` longer than the maximum backoff: waiting that long inside a
/// request is worse than failing now.
fn asked_to_wait(error: LlmError, wait: Duration) -> LlmError {
    match error {
        LlmError::Upstream {
            provider,
            status,
            message,
        } => LlmError::Upstream {
            provider,
            status,
            message: format!(
                "{message} (asks to retry after {} s, longer than the maximum backoff)",
                ceil_secs(wait)
            ),
        },
        // RateLimited already carries the Retry-After value.
        other => other,
    }
}

pub(crate) use temponest_retry::ceil_secs;

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_ms: 500,
            max_ms: 2_000,
        }
    }

    fn unavailable(retry_after: Option<Duration>) -> Failure {
        Failure {
            error: LlmError::upstream("p", 503, "down"),
            retryable: true,
            retry_after,
        }
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = policy();
        for _ in 0..200 {
            assert!(policy.jittered(0) <= Duration::from_millis(500));
            assert!(policy.jittered(1) <= Duration::from_millis(1_000));
            assert!(policy.jittered(10) <= Duration::from_millis(2_000));
            assert!(policy.jittered(200) <= Duration::from_millis(2_000));
        }
    }

    #[test]
    fn decisions() {
        let policy = policy();
        let wait = |attempt, failure, delivered| {
            policy
                .next(attempt, failure, delivered)
                .map(|(wait, _)| wait)
        };
        let exact = Some(Duration::from_secs(1));
        assert_eq!(
            wait(1, unavailable(exact), false),
            Ok(Duration::from_secs(1))
        );
        assert!(wait(3, unavailable(None), false).is_ok());
        assert!(
            wait(4, unavailable(None), false).is_err(),
            "retries exhausted"
        );
        assert!(
            wait(1, unavailable(None), true).is_err(),
            "text was streamed"
        );
        assert!(wait(1, Failure::fatal(LlmError::upstream("p", 400, "x")), false).is_err());
        let too_long = wait(1, unavailable(Some(Duration::from_secs(3))), false).unwrap_err();
        assert_eq!(
            too_long.to_string(),
            "provider 'p' returned HTTP 503: down (asks to retry after 3 s, longer than the maximum backoff)"
        );
    }

    #[test]
    fn ceil() {
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
    }
}
