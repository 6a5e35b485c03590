//! L2: Redis through a deadpool pool, with the failure policy that keeps the cache usable when
//! Redis is not: every operation is bounded by `redis_timeout`, a failure opens a short back-off
//! during which Redis is skipped outright, errors are counted per category, and the warning is
//! logged once per outage (then at most once a minute) instead of once per call.

use std::fmt::Display;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, FromRedisValue};
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};
use tracing::{info, warn};

use crate::SharedConnection;
use crate::counters;

/// How long Redis is skipped after a failure.
const BACKOFF: Duration = Duration::from_secs(1);
/// Lower bound for the pool size. Connections are multiplexed and cheap; a pool sized by CPU
/// count alone (deadpool's default) can run dry under load, and a checkout that times out would
/// be taken for a Redis outage.
const MIN_POOL_SIZE: usize = 16;
/// Minimum interval between two "still unreachable" warnings.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Redis could not be used for this operation (the cause is already logged and counted).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unavailable;

/// A Redis request: one command or a pipeline.
pub(crate) enum Request<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

/// Pool, timeout and health of the Redis tier.
pub(crate) struct Redis {
    connection: SharedConnection,
    timeout: Duration,
    health: Health,
}

impl Redis {
    /// Builds the pool (no I/O happens here). Fails only on an unparsable URL.
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
    ) -> Result<Self, deadpool_redis::CreatePoolError> {
        let mut config = Config::from_url(url);
        let default = PoolConfig::default();
        config.pool = Some(PoolConfig {
            max_size: default.max_size.max(MIN_POOL_SIZE),
            timeouts: Timeouts {
                wait: Some(timeout),
                create: Some(timeout),
                recycle: Some(timeout),
            },
            ..default
        });
        let pool = config.create_pool(Some(Runtime::Tokio1))?;
        Ok(Self {
            connection: SharedConnection::new(pool),
            timeout,
            health: Health::new(),
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        self.connection.pool()
    }

    pub(crate) fn healthy(&self) -> bool {
        self.health.healthy.load(Ordering::Relaxed)
    }

    /// Runs `request`, bounded by the timeout, unless Redis is in its back-off window.
    /// `label` is the `cache` metric label charged with a failure.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        label: &'static str,
        request: Request<'_>,
    ) -> Result<T, Unavailable> {
        if self.health.in_backoff() {
            counters::error(label);
            return Err(Unavailable);
        }
        let attempt = async {
            let mut conn = self.connection.get().await.map_err(|e| e.to_string())?;
            let result = match request {
                Request::Cmd(cmd) => cmd.query_async(&mut conn).await,
                Request::Pipe(pipe) => pipe.query_async(&mut conn).await,
            };
            result.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(value)) => {
                self.record_success();
                Ok(value)
            }
            Ok(Err(error)) => {
                self.connection.reset();
                Err(self.record_failure(label, &error))
            }
            Err(_) => {
                self.connection.reset();
                Err(self.record_failure(label, &"timed out"))
            }
        }
    }

    /// `GET` and `PTTL` in one round trip: the stored bytes and their remaining lifetime.
    pub(crate) async fn get(
        &self,
        label: &'static str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Option<Duration>)>, Unavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let (bytes, pttl): (Option<Vec<u8>>, i64) = self.query(label, Request::Pipe(&pipe)).await?;
        let remaining = u64::try_from(pttl).ok().map(Duration::from_millis);
        Ok(bytes.map(|bytes| (bytes, remaining)))
    }

    /// `SET key value PX ttl`.
    pub(crate) async fn set(
        &self,
        label: &'static str,
        key: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(bytes).arg("PX").arg(millis(ttl));
        self.query(label, Request::Cmd(&cmd)).await
    }

    pub(crate) async fn del(&self, label: &'static str, key: &str) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        self.query::<i64>(label, Request::Cmd(&cmd)).await.map(drop)
    }

    /// The namespace version stored at `key` (0 when never bumped), extending the key's life
    /// to `keep_for` (`GETEX`, Redis 6.2+).
    pub(crate) async fn version(
        &self,
        label: &'static str,
        key: &str,
        keep_for: Duration,
    ) -> Result<u64, Unavailable> {
        let mut cmd = redis::cmd("GETEX");
        cmd.arg(key).arg("PX").arg(millis(keep_for));
        let version: Option<u64> = self.query(label, Request::Cmd(&cmd)).await?;
        Ok(version.unwrap_or(0))
    }

    /// Bumps a namespace version (`INCR`) and sets the key's life to `keep_for`.
    /// Increments a namespace version and, in the same round trip, publishes `announce`
    /// (channel, message) so other replicas drop their cached version.
    pub(crate) async fn bump(
        &self,
        label: &'static str,
        key: &str,
        keep_for: Duration,
        announce: Option<(&str, &[u8])>,
    ) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("INCR").arg(key).ignore();
        pipe.cmd("PEXPIRE").arg(key).arg(millis(keep_for)).ignore();
        if let Some((channel, message)) = announce {
            pipe.cmd("PUBLISH").arg(channel).arg(message).ignore();
        }
        self.query::<()>(label, Request::Pipe(&pipe)).await
    }

    pub(crate) async fn publish(
        &self,
        label: &'static str,
        channel: &str,
        payload: &[u8],
    ) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        self.query::<i64>(label, Request::Cmd(&cmd)).await.map(drop)
    }

    /// Marks Redis reachable and ends any back-off (also used by the invalidation subscriber).
    pub(crate) fn record_success(&self) {
        // Loads first: this runs after every successful operation, and stores would make the
        // cores fight over the cache line.
        if self.health.backoff_until_ms.load(Ordering::Relaxed) != 0 {
            self.health.backoff_until_ms.store(0, Ordering::Relaxed);
        }
        if !self.health.healthy.load(Ordering::Relaxed)
            && !self.health.healthy.swap(true, Ordering::Relaxed)
        {
            let mut log = self.health.lock_log();
            if log.failing {
                log.failing = false;
                info!(
                    suppressed_errors = log.suppressed,
                    "redis is reachable again; cache back on two tiers"
                );
                log.suppressed = 0;
            }
        }
    }

    /// Marks Redis unreachable, starts the back-off, counts and (rate-limited) logs the error.
    pub(crate) fn record_failure(&self, label: &'static str, error: &dyn Display) -> Unavailable {
        counters::error(label);
        self.health.healthy.store(false, Ordering::Relaxed);
        let until = self.health.now_ms() + BACKOFF.as_millis() as u64;
        self.health.backoff_until_ms.store(until, Ordering::Relaxed);

        let mut log = self.health.lock_log();
        let now = Instant::now();
        let due = log.last_warn.is_none_or(|at| now - at >= WARN_EVERY);
        if !log.failing || due {
            warn!(
                cache = label,
                error = %error,
                suppressed_errors = log.suppressed,
                "redis unavailable; cache runs on L1 only and retries in the background"
            );
            log.failing = true;
            log.last_warn = Some(now);
            log.suppressed = 0;
        } else {
            log.suppressed += 1;
        }
        Unavailable
    }
}

/// A TTL in whole milliseconds for `PX`/`PEXPIRE`, at least 1 (Redis rejects 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Shared health state: a flag for readers, a back-off deadline, and the log rate limiter.
struct Health {
    healthy: AtomicBool,
    /// Milliseconds since `epoch` before which Redis is skipped; 0 = no back-off.
    backoff_until_ms: AtomicU64,
    epoch: Instant,
    log: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    failing: bool,
    last_warn: Option<Instant>,
    suppressed: u64,
}

impl Health {
    fn new() -> Self {
        Self {
            healthy: AtomicBool::new(false),
            backoff_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            log: Mutex::new(LogState::default()),
        }
    }

    fn now_ms(&self) -> u64 {
        // Starts at 1 so that 0 can mean "no back-off".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn in_backoff(&self) -> bool {
        self.now_ms() < self.backoff_until_ms.load(Ordering::Relaxed)
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, LogState> {
        // The state is plain counters, valid even if a holder panicked.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
