//! Policies (a quota of requests over a window) and the decisions the limiter returns for them.
//!
//! Both backends (Redis and in-process) implement the same GCRA: a policy of `quota` requests per
//! `window` lets a fresh client send `quota` requests at once, then one every `window / quota`.

use std::sync::Arc;
use std::time::Duration;

/// A named quota of requests over a window, e.g. `{"minute", 60, 60s}`.
///
/// The name appears in the `RateLimit-Policy` / `RateLimit` headers and in the 429 body, so keep
/// it short and ASCII. A quota of 0 denies every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Name shown to clients in headers and error bodies (shared: every decision carries a
    /// copy of its policies).
    pub name: Arc<str>,
    /// Requests allowed per window (also the burst size).
    pub quota: u32,
    /// Length of the window.
    pub window: Duration,
}

impl Policy {
    /// A policy with an explicit name, quota and window.
    pub fn new(name: impl Into<Arc<str>>, quota: u32, window: Duration) -> Self {
        Self {
            name: name.into(),
            quota,
            window,
        }
    }

    /// `n` requests per minute, named `"minute"`.
    pub fn per_minute(n: u32) -> Self {
        Self::new("minute", n, Duration::from_secs(60))
    }

    /// `n` requests per hour, named `"hour"`.
    pub fn per_hour(n: u32) -> Self {
        Self::new("hour", n, Duration::from_secs(3600))
    }

    /// The GCRA emission interval in whole microseconds (`window / quota`, at least 1 µs).
    ///
    /// Rounding down keeps a burst of exactly `quota` requests possible; both backends use this
    /// same value so they make identical decisions.
    pub(crate) fn interval_micros(&self) -> u64 {
        let window = u64::try_from(self.window.as_micros()).unwrap_or(u64::MAX);
        (window / u64::from(self.quota.max(1))).max(1)
    }

    /// The emission interval as a `Duration`.
    pub(crate) fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_micros())
    }
}

/// The state of one policy for one key after a check.
#[derive(Debug, Clone)]
pub struct PolicyState {
    /// The policy this state belongs to.
    pub policy: Policy,
    /// Requests still allowed right now. In a denied decision, 0 marks the violated policies
    /// (the others keep at least 1 because the denied request consumed nothing).
    pub remaining: u32,
    /// Time until the quota is fully restored.
    pub reset_after: Duration,
}

/// The outcome of [`RateLimiter::check`](crate::RateLimiter::check) for every policy of a request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Whether the request may proceed (it did consume quota from every policy).
    pub allowed: bool,
    /// One entry per checked policy, in the order given.
    pub policies: Vec<PolicyState>,
    /// When denied: how long to wait before the request could be allowed.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// An allowed decision that consumed nothing: used when limiting is disabled.
    pub(crate) fn unlimited(policies: &[Policy]) -> Self {
        Self {
            allowed: true,
            policies: policies
                .iter()
                .map(|policy| PolicyState {
                    policy: policy.clone(),
                    remaining: policy.quota,
                    reset_after: Duration::ZERO,
                })
                .collect(),
            retry_after: None,
        }
    }

    /// A denial without touching any backend, if some policy has a quota of 0.
    pub(crate) fn deny_if_zero_quota(policies: &[Policy]) -> Option<Self> {
        let blocking = policies.iter().filter(|p| p.quota == 0);
        let retry_after = blocking.map(|p| p.window).max()?;
        Some(Self {
            allowed: false,
            policies: policies
                .iter()
                .map(|policy| PolicyState {
                    policy: policy.clone(),
                    remaining: if policy.quota == 0 { 0 } else { policy.quota },
                    reset_after: if policy.quota == 0 {
                        policy.window
                    } else {
                        Duration::ZERO
                    },
                })
                .collect(),
            retry_after: Some(retry_after.max(Duration::from_secs(1))),
        })
    }

    /// The policy clients should look at: the one with the least remaining (ties go to the one
    /// that takes longest to reset). `None` when no policy applied.
    pub fn most_restrictive(&self) -> Option<&PolicyState> {
        self.policies.iter().min_by(|a, b| {
            a.remaining
                .cmp(&b.remaining)
                .then(b.reset_after.cmp(&a.reset_after))
        })
    }

    /// The policies that caused a denial (empty when allowed).
    pub fn violated_policies(&self) -> impl Iterator<Item = &PolicyState> {
        self.policies
            .iter()
            .filter(move |state| !self.allowed && state.remaining == 0)
    }
}

/// Whole seconds, rounded up: headers carry integers and must never promise too early a reset.
pub(crate) fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_the_window_divided_by_the_quota() {
        assert_eq!(Policy::per_minute(60).interval(), Duration::from_secs(1));
        assert_eq!(Policy::per_hour(1000).interval_micros(), 3_600_000);
        assert_eq!(Policy::new("tiny", 10, Duration::ZERO).interval_micros(), 1);
    }

    #[test]
    fn seconds_are_rounded_up() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn a_zero_quota_denies_without_a_backend() {
        let policies = [Policy::per_minute(0), Policy::per_hour(10)];
        let decision = Decision::deny_if_zero_quota(&policies).expect("denied");
        assert!(!decision.allowed);
        let violated: Vec<_> = decision.violated_policies().map(|s| &s.policy).collect();
        assert_eq!(violated, [&policies[0]]);
        assert!(Decision::deny_if_zero_quota(&policies[1..]).is_none());
    }
}
