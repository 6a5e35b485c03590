//! The distributed backend: GCRA for every policy of a request in one Lua script, with the
//! checks of one client that arrive while a script call is in flight answered together by the
//! next call.
//!
//! The script reads the Redis server clock (`TIME`), so replicas of a service never disagree
//! because their own clocks drift. It checks all policies before writing any, so a request
//! consumes quota only when every policy allows it. Each (key, policy) pair stores its
//! theoretical arrival time (TAT, µs since the epoch) with a `PX` expiry of at most one window,
//! so idle keys disappear on their own.
//!
//! **Batching.** One client sending many requests at once (an SDK with a connection pool, a
//! load test) would otherwise cost one Redis round trip per request, one after the other on
//! the same keys. Instead, a check for a (key, policies) pair with no call in flight starts one
//! at once; checks that arrive meanwhile wait, and the next call asks for all of them: the
//! script admits the first `k` of `n` in arrival order (as many as every policy still has room
//! for), moves each TAT by `k` emission intervals, and the decision of every request — its
//! remaining quota, reset and retry-after — is derived from the TATs it returns exactly as if
//! the `n` checks had run one after the other. Nothing is admitted that sequential checks
//! would have refused, and no quota is held back from other replicas.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::{Pool, PoolError, redis};
use temponest_cache::SharedConnection;
use tokio::sync::oneshot;

use crate::policy::{Decision, Policy, PolicyState};

/// GCRA for `ARGV[1]` requests over `#KEYS` policies. `ARGV[2i]` = emission interval (µs),
/// `ARGV[2i+1]` = quota of policy `i`. Admits the largest `k <= ARGV[1]` that every policy
/// allows, consumes `k` cells of each, and returns `{k, tat_1 - now, ..., tat_n - now}` (the
/// TATs after consuming, µs relative to the server clock).
const GCRA_SCRIPT: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local n = #KEYS
local admitted = tonumber(ARGV[1])
local tats = {}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i])
  local window = interval * tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  tats[i] = tat
  local room = math.floor((now + window - tat) / interval)
  if room < admitted then admitted = room end
end
if admitted < 0 then admitted = 0 end
local reply = {admitted}
for i = 1, n do
  local tat = tats[i]
  if admitted > 0 then
    tat = tat + admitted * tonumber(ARGV[2 * i])
    redis.call('SET', KEYS[i], string.format('%.0f', tat),
      'PX', string.format('%.0f', math.ceil((tat - now) / 1000)))
  end
  reply[#reply + 1] = tat - now
end
return reply
"#;

/// Why a Redis check could not be answered (the caller then falls back to local limits).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisCheckError {
    #[error("no Redis connection: {0}")]
    Pool(#[from] PoolError),
    #[error("Redis script failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected reply from the rate-limit script: {0:?}")]
    Reply(Vec<i64>),
    /// The call answering this check failed (the cause is logged once, by the first waiter).
    #[error("{0}")]
    Batch(Arc<RedisCheckError>),
}

/// What a waiting check is sent: its decision, or why the call failed.
type Answer = Result<Decision, Arc<RedisCheckError>>;

/// Runs the GCRA script against a pool (cheap to clone).
#[derive(Clone)]
pub(crate) struct RedisBackend {
    shared: Arc<Shared>,
}

struct Shared {
    /// One multiplexed connection for every call (a pool checkout would cost a `PING`).
    connection: SharedConnection,
    script: redis::Script,
    key_prefix: String,
    timeout: Duration,
    /// Checks waiting for the next call, by client key, then by policies (a client has one set
    /// of policies per route override, so the inner list is short). A present group means a
    /// drain task runs for it (it removes the group once it finds it empty). Keyed by what the
    /// caller passes, so a waiting check allocates and formats nothing: the drain task builds
    /// the Redis keys once.
    waiting: Mutex<HashMap<String, Vec<Group>>>,
}

/// The checks waiting on one (client key, policies).
struct Group {
    policies: Vec<Policy>,
    waiters: Vec<oneshot::Sender<Answer>>,
}

impl RedisBackend {
    pub(crate) fn new(pool: Pool, key_prefix: String, timeout: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                connection: SharedConnection::new(pool),
                script: redis::Script::new(GCRA_SCRIPT),
                key_prefix,
                timeout,
                waiting: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Checks (and, if allowed, consumes) every policy for `key`. Each script call is bounded
    /// by the timeout (pool checkout included); a check waits for at most the call in flight
    /// and its own.
    pub(crate) async fn check(
        &self,
        key: &str,
        policies: &[Policy],
    ) -> Result<Decision, RedisCheckError> {
        let (sender, answer) = oneshot::channel();
        let start_drain = {
            let mut waiting = self.shared.lock_waiting();
            let groups = match waiting.get_mut(key) {
                Some(groups) => groups,
                None => waiting.entry(key.to_owned()).or_default(),
            };
            match groups.iter_mut().find(|group| group.policies == policies) {
                Some(group) => {
                    group.waiters.push(sender);
                    false
                }
                None => {
                    groups.push(Group {
                        policies: policies.to_vec(),
                        waiters: vec![sender],
                    });
                    true
                }
            }
        };
        if start_drain {
            let drain = Drain {
                keys: policies
                    .iter()
                    .map(|policy| self.shared.redis_key(key, policy))
                    .collect(),
                shared: Arc::clone(&self.shared),
                key: key.to_owned(),
                policies: policies.to_vec(),
                finished: false,
            };
            tokio::spawn(drain.run());
        }
        match answer.await {
            Ok(Ok(decision)) => Ok(decision),
            Ok(Err(error)) => Err(RedisCheckError::Batch(error)),
            // The drain task ended without answering (the runtime is shutting down).
            Err(_) => Err(RedisCheckError::Timeout(self.shared.timeout)),
        }
    }
}

impl Shared {
    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Group>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One script call for `count` checks.
    async fn call(
        &self,
        keys: &[String],
        policies: &[Policy],
        count: usize,
    ) -> Result<Admitted, RedisCheckError> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(count);
        for (key, policy) in keys.iter().zip(policies) {
            invocation
                .key(key)
                .arg(policy.interval_micros())
                .arg(policy.quota);
        }
        let call = async {
            let mut connection = self.connection.get().await?;
            let reply: Vec<i64> = invocation.invoke_async(&mut connection).await?;
            Ok::<_, RedisCheckError>(reply)
        };
        let reply = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisCheckError::Timeout(self.timeout))
            .flatten()
            .inspect_err(|_| self.connection.reset())?;
        Admitted::decode(policies.len(), reply)
    }

    /// `{prefix}:rl:{<key>}:<name>:<quota>:<window ms>`. The braces make every policy key of
    /// one client hash to the same Redis Cluster slot, which a multi-key script requires; the
    /// quota and window are part of the key so a configuration change starts from a clean state.
    fn redis_key(&self, key: &str, policy: &Policy) -> String {
        format!(
            "{}:rl:{{{}}}:{}:{}:{}",
            self.key_prefix,
            key,
            policy.name,
            policy.quota,
            policy.window.as_millis()
        )
    }
}

/// The task answering the checks waiting on one (client key, policies).
struct Drain {
    shared: Arc<Shared>,
    /// The client key and policies of its group in [`Shared::waiting`].
    key: String,
    policies: Vec<Policy>,
    /// The Redis key of each policy.
    keys: Vec<String>,
    /// Set once `run` has removed the entry itself (under the lock, finding it empty).
    finished: bool,
}

impl Drain {
    /// One script call per batch until no check is waiting; then the entry is removed in the
    /// same critical section that found it empty, so a check arriving later starts a new task.
    async fn run(mut self) {
        loop {
            let batch = {
                let mut waiting = self.shared.lock_waiting();
                let waiters = self
                    .group(&mut waiting)
                    .map(|group| std::mem::take(&mut group.waiters))
                    .unwrap_or_default();
                if waiters.is_empty() {
                    self.remove_group(&mut waiting);
                    self.finished = true;
                    return;
                }
                waiters
            };
            match self
                .shared
                .call(&self.keys, &self.policies, batch.len())
                .await
            {
                Ok(admitted) => {
                    for (position, waiter) in batch.into_iter().enumerate() {
                        let _ = waiter.send(Ok(admitted.decision(&self.policies, position)));
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for waiter in batch {
                        let _ = waiter.send(Err(Arc::clone(&error)));
                    }
                }
            }
        }
    }
}

impl Drop for Drain {
    /// A task dropped before it finished (never polled because the runtime is shutting down,
    /// or a panic) removes its entry: the checks still waiting see their sender dropped and
    /// fall back to local limits, and later checks start a new task.
    fn drop(&mut self) {
        if !self.finished {
            let shared = Arc::clone(&self.shared);
            self.remove_group(&mut shared.lock_waiting());
        }
    }
}

impl Drain {
    /// This task's group, if it is still there.
    fn group<'w>(&self, waiting: &'w mut HashMap<String, Vec<Group>>) -> Option<&'w mut Group> {
        waiting
            .get_mut(&self.key)?
            .iter_mut()
            .find(|group| group.policies == self.policies)
    }

    /// Removes this task's group (and the client's entry with its last group).
    fn remove_group(&self, waiting: &mut HashMap<String, Vec<Group>>) {
        if let Some(groups) = waiting.get_mut(&self.key) {
            groups.retain(|group| group.policies != self.policies);
            if groups.is_empty() {
                waiting.remove(&self.key);
            }
        }
    }
}

/// The script's answer for a batch: how many of its checks were admitted (the first ones) and
/// every policy's TAT after them, relative to the moment of the call.
#[derive(Debug)]
struct Admitted {
    count: u64,
    tats_micros: Vec<i64>,
}

impl Admitted {
    fn decode(policies: usize, reply: Vec<i64>) -> Result<Self, RedisCheckError> {
        match reply.split_first() {
            Some((&count, tats)) if tats.len() == policies && count >= 0 => Ok(Self {
                count: count.unsigned_abs(),
                tats_micros: tats.to_vec(),
            }),
            _ => Err(RedisCheckError::Reply(reply)),
        }
    }

    /// The decision of the check at `position` (0-based, arrival order) of the batch: what a
    /// check of its own at that point in the sequence would have answered.
    fn decision(&self, policies: &[Policy], position: usize) -> Decision {
        let position = u64::try_from(position).unwrap_or(u64::MAX);
        let allowed = position < self.count;
        let mut retry_after = 0_i64;
        let states = policies
            .iter()
            .zip(&self.tats_micros)
            .map(|(policy, &tat_after)| {
                let interval = i64::try_from(policy.interval_micros()).unwrap_or(i64::MAX);
                let window = interval.saturating_mul(i64::from(policy.quota));
                // An admitted check sees the TAT it moved to; a refused one the TAT after
                // every admitted check (it consumed nothing).
                let later_admitted = if allowed {
                    i64::try_from(self.count - 1 - position).unwrap_or(i64::MAX)
                } else {
                    0
                };
                let tat = tat_after - later_admitted.saturating_mul(interval);
                if !allowed {
                    retry_after = retry_after.max(tat + interval - window);
                }
                let remaining =
                    ((window - tat).max(0) / interval.max(1)).min(i64::from(policy.quota));
                PolicyState {
                    policy: policy.clone(),
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset_after: micros(tat),
                }
            })
            .collect();
        Decision {
            allowed,
            policies: states,
            retry_after: (!allowed).then(|| micros(retry_after).max(Duration::from_micros(1))),
        }
    }
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_refused_check_is_decoded_per_policy() {
        // 60/min: interval 1 s, window 60 s; 1000/h: interval 3.6 s, window 3600 s.
        let policies = [Policy::per_minute(60), Policy::per_hour(1000)];
        let admitted =
            Admitted::decode(2, vec![0, 60_000_000 + 500_000, 3_575_000_000]).expect("reply");
        let decision = admitted.decision(&policies, 0);
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, Some(Duration::from_millis(1500)));
        assert_eq!(decision.policies[0].remaining, 0);
        assert_eq!(decision.policies[1].remaining, 6);
        assert_eq!(decision.policies[1].reset_after, Duration::from_secs(3575));
    }

    #[test]
    fn a_batch_is_answered_as_if_its_checks_ran_one_after_the_other() {
        // 5 per 5 s (interval 1 s) on a fresh key, 7 checks at once: the script admits 5 and
        // the TAT ends 5 s ahead.
        let policies = [Policy::new("burst", 5, Duration::from_secs(5))];
        let admitted = Admitted::decode(1, vec![5, 5_000_000]).expect("reply");
        let remaining: Vec<u32> = (0..7)
            .map(|position| admitted.decision(&policies, position).policies[0].remaining)
            .collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0, 0, 0]);
        let allowed: Vec<bool> = (0..7)
            .map(|position| admitted.decision(&policies, position).allowed)
            .collect();
        assert_eq!(allowed, [true, true, true, true, true, false, false]);
        let first = admitted.decision(&policies, 0);
        assert_eq!(first.policies[0].reset_after, Duration::from_secs(1));
        assert_eq!(first.retry_after, None);
        let refused = admitted.decision(&policies, 6);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(refused.policies[0].reset_after, Duration::from_secs(5));
    }

    #[test]
    fn a_malformed_reply_is_an_error() {
        assert!(matches!(
            Admitted::decode(1, vec![1]),
            Err(RedisCheckError::Reply(_))
        ));
        assert!(matches!(
            Admitted::decode(1, vec![-1, 0]),
            Err(RedisCheckError::Reply(_))
        ));
    }
}
