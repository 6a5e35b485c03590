//! How long to wait before trying again, written once for every caller that retries: the LLM
//! clients, the auth client (introspection, service tokens), the scheduler's calls to the
//! agents service and its failed runs, and webhook deliveries.
//!
//! - [`Backoff`]: exponential (`base · 2^retry`, capped at `max`) with a jitter scheme, so
//!   callers that failed together do not retry together. [`Jitter::Full`] spreads waits over
//!   `[0, d]` (best for many clients hammering one server); [`Jitter::Equal`] over `[d/2, d]`
//!   (never retries immediately); [`Jitter::Proportional`] over `d ± p·d` (keeps a documented
//!   schedule recognisable, as for scheduled runs).
//! - [`retry_after`]: the server's `Retry-After` as a wait, in either of its forms
//!   (delta-seconds, fractions tolerated, or an HTTP-date relative to `now`).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use http::HeaderMap;
use http::header::RETRY_AFTER;
use rand::RngExt;

/// How a computed delay is spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d/2, d]`.
    Equal,
    /// Uniform in `[d·(1-p), d·(1+p)]` (still capped at `max`).
    Proportional(f64),
}

/// Exponential backoff: retry `n` (from 0) waits about `base · 2^n`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub jitter: Jitter,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration, jitter: Jitter) -> Self {
        Self { base, max, jitter }
    }

    /// The un-jittered delay of retry `retry` (from 0): `base · 2^retry`, at most `max`.
    pub fn nominal(&self, retry: u32) -> Duration {
        let factor = 2f64.powi(retry.min(62) as i32);
        Duration::try_from_secs_f64(self.base.as_secs_f64() * factor)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The jittered delay before retry `retry` (from 0).
    pub fn delay(&self, retry: u32) -> Duration {
        let nominal = self.nominal(retry).as_secs_f64();
        let mut rng = rand::rng();
        let secs = match self.jitter {
            Jitter::Full => rng.random_range(0.0..=nominal),
            Jitter::Equal => rng.random_range(nominal / 2.0..=nominal),
            Jitter::Proportional(p) => {
                let p = p.clamp(0.0, 1.0);
                rng.random_range(nominal * (1.0 - p)..=nominal * (1.0 + p))
            }
        };
        Duration::from_secs_f64(secs).min(self.max)
    }

    /// [`Backoff::delay`], but never shorter than what the server asked for (`Retry-After`),
    /// and never longer than `max`.
    pub fn delay_honouring(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        self.delay(retry)
            .max(retry_after.unwrap_or(Duration::ZERO))
            .min(self.max)
    }
}

/// `Retry-After` as a wait from `now`: delta-seconds (fractions tolerated) or an HTTP-date
/// (`max(date - now, 0)`). Absent or unparseable values give `None` (normal backoff applies).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    let now: DateTime<Utc> = now.into();
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whole seconds, rounded up: a wait reported as an integer (`Retry-After`, an error's
/// `after_secs`) never promises too early a retry (0.2 s is 1 s, not 0).
pub fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)"), for a failed
/// call's message: an HTTP client's outer layers only repeat "error sending request" and would
/// add the URL.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_round_up_and_the_innermost_cause_is_named() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(200)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        #[derive(Debug)]
        struct Sending(std::io::Error);
        impl std::fmt::Display for Sending {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request for url (http://10.0.0.1/)")
            }
        }
        impl std::error::Error for Sending {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(root_cause(&Sending(refused)), "refused");
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_takes_seconds_fractions_and_http_dates() {
        let now: SystemTime = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            .into();
        let parse = |v: &str| retry_after(&headers(v), now);
        assert_eq!(parse("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse("Fri, 04 Dec 2026 10:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse("Fri, 04 Dec 2026 09:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-3"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn delays_grow_exponentially_within_their_jitter_and_are_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(10);
        for _ in 0..200 {
            let full = Backoff::new(base, max, Jitter::Full);
            assert!(full.delay(2) <= Duration::from_secs(4));
            let equal = Backoff::new(base, max, Jitter::Equal);
            let d = equal.delay(2);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
                "{d:?}"
            );
            let tight = Backoff::new(base, max, Jitter::Proportional(0.1));
            let d = tight.delay(3).as_secs_f64();
            assert!((7.2..=8.8).contains(&d), "{d}");
            assert!(equal.delay(60) <= max && equal.delay(u32::MAX) <= max);
        }
        assert_eq!(Backoff::new(base, max, Jitter::Full).nominal(100), max);
    }

    #[test]
    fn a_servers_retry_after_is_a_floor_within_the_cap() {
        let backoff = Backoff::new(
            Duration::from_millis(10),
            Duration::from_secs(60),
            Jitter::Full,
        );
        assert!(
            backoff.delay_honouring(0, Some(Duration::from_secs(30))) >= Duration::from_secs(30)
        );
        assert_eq!(
            backoff.delay_honouring(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }
}
