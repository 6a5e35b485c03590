//! The distributed backend: GCRA for every policy of a request in one Lua script.
//!
//! The script reads the Redis server clock (`TIME`), so replicas of a service never disagree
//! because their own clocks drift. It checks all policies before writing any, so a request
//! consumes quota only when every policy allows it. Each (key, policy) pair stores its
//! theoretical arrival time (TAT, µs since the epoch) with a `PX` expiry of at most one window,
//! so idle keys disappear on their own.

use std::time::Duration;

use deadpool_redis::{Pool, PoolError, redis};

use crate::policy::{Decision, Policy, PolicyState};

/// GCRA over `#KEYS` policies. `ARGV[2i-1]` = emission interval (µs), `ARGV[2i]` = quota.
/// Returns `{allowed, retry_after_us, remaining_1, reset_after_us_1, ...}`.
const GCRA_SCRIPT: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local n = #KEYS
local tats = {}
local allowed = true
local retry_after = 0
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local window = interval * tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  tats[i] = tat
  local wait = tat + interval - window - now
  if wait > 0 then
    allowed = false
    if wait > retry_after then retry_after = wait end
  end
end
local reply = {allowed and 1 or 0, retry_after}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local window = interval * tonumber(ARGV[2 * i])
  local tat = tats[i]
  if allowed then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.0f', tat),
      'PX', string.format('%.0f', math.ceil((tat - now) / 1000)))
  end
  local remaining = math.floor((now + window - tat) / interval)
  if remaining < 0 then remaining = 0 end
  reply[#reply + 1] = remaining
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
}

/// Runs the GCRA script against a pool.
pub(crate) struct RedisBackend {
    pool: Pool,
    script: redis::Script,
    key_prefix: String,
    timeout: Duration,
}

impl RedisBackend {
    pub(crate) fn new(pool: Pool, key_prefix: String, timeout: Duration) -> Self {
        Self {
            pool,
            script: redis::Script::new(GCRA_SCRIPT),
            key_prefix,
            timeout,
        }
    }

    /// Checks (and, if allowed, consumes) every policy for `key`, bounded by the timeout
    /// (pool checkout included).
    pub(crate) async fn check(
        &self,
        key: &str,
        policies: &[Policy],
    ) -> Result<Decision, RedisCheckError> {
        let mut invocation = self.script.prepare_invoke();
        for policy in policies {
            invocation
                .key(self.redis_key(key, policy))
                .arg(policy.interval_micros())
                .arg(policy.quota);
        }
        let call = async {
            let mut connection = self.pool.get().await?;
            let reply: Vec<i64> = invocation.invoke_async(&mut connection).await?;
            Ok::<_, RedisCheckError>(reply)
        };
        let reply = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisCheckError::Timeout(self.timeout))??;
        decode_reply(policies, reply)
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

fn decode_reply(policies: &[Policy], reply: Vec<i64>) -> Result<Decision, RedisCheckError> {
    if reply.len() != 2 + 2 * policies.len() {
        return Err(RedisCheckError::Reply(reply));
    }
    let micros = |value: i64| Duration::from_micros(u64::try_from(value).unwrap_or(0));
    let allowed = reply[0] == 1;
    let states = policies
        .iter()
        .zip(reply[2..].chunks_exact(2))
        .map(|(policy, pair)| PolicyState {
            policy: policy.clone(),
            remaining: u32::try_from(pair[0]).unwrap_or(0).min(policy.quota),
            reset_after: micros(pair[1]),
        })
        .collect();
    Ok(Decision {
        allowed,
        policies: states,
        retry_after: (!allowed).then(|| micros(reply[1])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_decoded_per_policy() {
        let policies = [Policy::per_minute(60), Policy::per_hour(1000)];
        let decision = decode_reply(&policies, vec![0, 1_500_000, 0, 60_000_000, 7, 10_000_000])
            .expect("well-formed reply");
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, Some(Duration::from_millis(1500)));
        assert_eq!(decision.policies[0].remaining, 0);
        assert_eq!(decision.policies[1].remaining, 7);
        assert_eq!(decision.policies[1].reset_after, Duration::from_secs(10));
    }

    #[test]
    fn a_short_reply_is_an_error() {
        let policies = [Policy::per_minute(60)];
        assert!(matches!(
            decode_reply(&policies, vec![1, 0]),
            Err(RedisCheckError::Reply(_))
        ));
    }
}
