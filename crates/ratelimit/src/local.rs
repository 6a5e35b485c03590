//! The in-process fallback: one governor keyed GCRA limiter per policy, used while Redis is
//! unavailable (or when no pool is configured).
//!
//! Two things governor does not give us out of the box are added here:
//! - **All-or-nothing across policies.** Requests for one key are serialised by a striped lock;
//!   the TAT of every policy is saved before checking and restored if any policy denies, so a
//!   denied request consumes nothing (the same guarantee as the Redis script).
//! - **Bounded memory.** Keyed state is pruned with `retain_recent` + `shrink_to_fit` every
//!   [`PRUNE_EVERY`] (on the request path, no background task), and each policy holds at most
//!   `local_max_keys` keys; beyond that, new clients share one overflow budget, so rotating
//!   addresses can neither exhaust memory nor escape the limit.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::policy::{Decision, Policy, PolicyState};

/// How often keyed state is pruned in the normal course of requests.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// How soon pruning may run again when a policy hits its key cap.
const PRUNE_AT_CAP_EVERY: Duration = Duration::from_secs(1);
/// Number of lock stripes serialising checks of the same key.
const STRIPES: usize = 64;
/// The shared key of clients that arrive while a policy is at its key cap.
const OVERFLOW_KEY: &str = "\u{0}overflow";

/// Keyed TAT store shared between the governor limiter and this module (which needs to read
/// and restore values, something governor's own stores do not expose).
#[derive(Clone, Default)]
struct TatStore(Arc<DashMap<String, u64>>);

impl StateStore for TatStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // Callers hold the key's stripe lock, so nothing else writes this key meanwhile.
        if let Some(mut tat) = self.0.get_mut(key) {
            let (outcome, next) = f(Some(Nanos::new(*tat)))?;
            *tat = next.as_u64();
            return Ok(outcome);
        }
        let (outcome, next) = f(None)?;
        self.0.insert(key.clone(), next.as_u64());
        Ok(outcome)
    }
}

impl ShrinkableKeyedStateStore<String> for TatStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain(|_, tat| *tat > drop_below.as_u64());
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The governor limiter of one policy plus direct access to its state.
struct PolicyLimiter {
    governor: LocalGovernor,
    tats: TatStore,
    interval: Duration,
    quota: u32,
}

type LocalGovernor = Governor<String, TatStore, DefaultClock, StateInformationMiddleware>;

impl PolicyLimiter {
    fn new(policy: &Policy) -> Self {
        let quota = NonZeroU32::new(policy.quota).unwrap_or(NonZeroU32::MIN);
        let interval = policy.interval();
        let governor_quota = Quota::with_period(interval)
            .expect("the interval is at least 1 µs")
            .allow_burst(quota);
        let tats = TatStore::default();
        let governor = LocalGovernor::new(governor_quota, tats.clone(), DefaultClock::default());
        Self {
            governor,
            tats,
            interval,
            quota: quota.get(),
        }
    }

    fn at_capacity(&self, key: &str, max_keys: usize) -> bool {
        self.tats.0.len() >= max_keys && !self.tats.0.contains_key(key)
    }

    /// Time for `used` cells to drain, i.e. until the quota is whole again.
    fn drain_time(&self, used: u32) -> Duration {
        self.interval * used
    }
}

/// In-process limits for every policy seen so far.
pub(crate) struct LocalLimiter {
    limiters: DashMap<Policy, Arc<PolicyLimiter>>,
    stripes: Box<[Mutex<()>]>,
    stripe_hasher: RandomState,
    max_keys: usize,
    epoch: Instant,
    last_prune_ms: AtomicU64,
}

impl LocalLimiter {
    pub(crate) fn new(max_keys: usize) -> Self {
        Self {
            limiters: DashMap::new(),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            stripe_hasher: RandomState::new(),
            max_keys: max_keys.max(1),
            epoch: Instant::now(),
            last_prune_ms: AtomicU64::new(0),
        }
    }

    /// Checks every policy for `key`; consumes quota only if all allow.
    pub(crate) fn check(&self, key: &str, policies: &[Policy]) -> Decision {
        self.prune_if_due(PRUNE_EVERY);
        let limiters: Vec<Arc<PolicyLimiter>> =
            policies.iter().map(|p| self.limiter_for(p)).collect();

        let mut key = key;
        if limiters.iter().any(|l| l.at_capacity(key, self.max_keys)) {
            self.prune_if_due(PRUNE_AT_CAP_EVERY);
            if limiters.iter().any(|l| l.at_capacity(key, self.max_keys)) {
                key = OVERFLOW_KEY;
            }
        }
        let owned_key = key.to_owned();

        let stripe = self.stripe_hasher.hash_one(key) as usize % self.stripes.len();
        let _serialised = self.stripes[stripe]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());

        let saved: Vec<Option<u64>> = limiters
            .iter()
            .map(|l| l.tats.0.get(key).map(|tat| *tat))
            .collect();
        let outcomes: Vec<_> = limiters
            .iter()
            .map(|l| l.governor.check_key(&owned_key))
            .collect();
        let allowed = outcomes.iter().all(Result::is_ok);
        if !allowed {
            for (limiter, tat) in limiters.iter().zip(&saved) {
                match tat {
                    Some(tat) => limiter.tats.0.insert(owned_key.clone(), *tat),
                    None => limiter.tats.0.remove(key).map(|(_, tat)| tat),
                };
            }
        }

        let mut retry_after = Duration::ZERO;
        let states = policies
            .iter()
            .zip(&limiters)
            .zip(outcomes)
            .map(|((policy, limiter), outcome)| {
                let (remaining, reset_after) = match outcome {
                    Ok(snapshot) => {
                        // A rolled-back check gives its cell back.
                        let remaining = (snapshot.remaining_burst_capacity() + u32::from(!allowed))
                            .min(limiter.quota);
                        (remaining, limiter.drain_time(limiter.quota - remaining))
                    }
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(limiter.governor.clock().now());
                        retry_after = retry_after.max(wait);
                        (0, wait + limiter.drain_time(limiter.quota - 1))
                    }
                };
                PolicyState {
                    policy: policy.clone(),
                    remaining,
                    reset_after,
                }
            })
            .collect();
        Decision {
            allowed,
            policies: states,
            retry_after: (!allowed).then_some(retry_after),
        }
    }

    /// Keys currently held across all policies (for tests and the key-count gauge).
    pub(crate) fn key_count(&self) -> usize {
        self.limiters.iter().map(|l| l.tats.0.len()).sum()
    }

    /// Drops keys whose state is indistinguishable from a fresh one and releases the memory.
    pub(crate) fn prune(&self) {
        for limiter in self.limiters.iter() {
            limiter.governor.retain_recent();
            limiter.governor.shrink_to_fit();
        }
        metrics::gauge!("rate_limit_local_keys").set(self.key_count() as f64);
    }

    fn prune_if_due(&self, every: Duration) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= u64::try_from(every.as_millis()).unwrap_or(0);
        // Only the request that wins the exchange prunes; the others carry on.
        if due
            && self
                .last_prune_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.prune();
        }
    }

    fn limiter_for(&self, policy: &Policy) -> Arc<PolicyLimiter> {
        if let Some(limiter) = self.limiters.get(policy) {
            return Arc::clone(&limiter);
        }
        Arc::clone(
            &self
                .limiters
                .entry(policy.clone())
                .or_insert_with(|| Arc::new(PolicyLimiter::new(policy))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(quota: u32, window_ms: u64) -> Policy {
        Policy::new("test", quota, Duration::from_millis(window_ms))
    }

    #[test]
    fn clients_beyond_the_key_cap_share_one_overflow_budget() {
        let local = LocalLimiter::new(2);
        let policies = [policy(1, 60_000)];
        assert!(local.check("a", &policies).allowed);
        assert!(local.check("b", &policies).allowed);
        assert!(
            local.check("c", &policies).allowed,
            "first overflow request"
        );
        assert!(!local.check("d", &policies).allowed, "overflow is shared");
        assert!(
            !local.check("a", &policies).allowed,
            "known keys keep their own"
        );
        assert_eq!(local.key_count(), 3);
    }

    #[test]
    fn pruning_forgets_keys_whose_quota_is_whole_again() {
        let local = LocalLimiter::new(100);
        let policies = [policy(2, 100)];
        for key in ["a", "b", "c"] {
            assert!(local.check(key, &policies).allowed);
        }
        assert_eq!(local.key_count(), 3);
        let deadline = Instant::now() + Duration::from_secs(5);
        while local.key_count() > 0 {
            assert!(Instant::now() < deadline, "keys were never pruned");
            std::thread::sleep(Duration::from_millis(20));
            local.prune();
        }
    }

    #[test]
    fn a_denied_check_restores_every_policy() {
        let local = LocalLimiter::new(100);
        let policies = [policy(1, 60_000), policy(5, 60_000)];
        assert!(local.check("k", &policies).allowed);
        let denied = local.check("k", &policies);
        assert!(!denied.allowed);
        assert_eq!(denied.policies[1].remaining, 4, "second policy untouched");
        let second_only = local.check("k", &policies[1..]);
        assert!(second_only.allowed);
        assert_eq!(second_only.policies[0].remaining, 3);
    }
}
