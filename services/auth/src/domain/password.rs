//! Password rules and argon2id hashing. Hashing runs on the blocking pool behind a semaphore
//! sized to the CPUs, so a login flood queues (and is answered 503 when the queue wait
//! exceeds its limit) instead of starving the async runtime. Each hashing slot reuses one
//! argon2 memory block instead of allocating 19 MiB per hash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use rand::RngExt;
use tokio::sync::{OnceCell, Semaphore};

/// Why a password could not be hashed or verified. The routes answer the first two 503 (the
/// caller may retry) and the others 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// No hashing slot came free within the queue timeout (a login flood).
    #[error("password hashing queue is full")]
    Busy,
    /// The hasher is shutting down.
    #[error("password hasher closed")]
    Closed,
    /// The blocking task failed (it panicked or was cancelled).
    #[error("hashing task failed: {0}")]
    Task(String),
    /// argon2 or the PHC encoding refused its input (never for a valid configuration).
    #[error("hashing failed: {0}")]
    Compute(String),
}

/// Minimum and maximum password length in characters (SPEC §3).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// A password rule that is broken; the message is the one for the `password` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleError {
    #[error("must be at least {MIN_LEN} characters")]
    TooShort,
    #[error("must be at most {MAX_LEN} characters")]
    TooLong,
    #[error("must not be a single repeated character")]
    Repeated,
}

/// Checks the password rules.
pub fn validate(password: &str) -> Result<(), PasswordRuleError> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(PasswordRuleError::TooShort);
    }
    if chars > MAX_LEN {
        return Err(PasswordRuleError::TooLong);
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err(PasswordRuleError::Repeated);
    }
    Ok(())
}

/// The argon2 parameters of [`PasswordHasher::new`] are out of argon2's range.
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 parameters: {0}")]
pub struct InvalidHashParams(argon2::Error);

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash used other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// argon2 working memory (19 MiB at the default parameters), kept and reused while logins
/// keep coming. Allocating and freeing a fresh block per hash makes glibc keep the freed
/// blocks in per-thread arenas (RSS grew to ~500 MB after a login burst); reusing one block per
/// hashing slot keeps memory at `slots × m_cost` and saves the page faults of a new allocation
/// on every login. Blocks unused for [`IDLE_RELEASE_AFTER`] are freed, so an idle service
/// returns to its start-up footprint.
type MemoryPool = Arc<Mutex<Vec<Pooled>>>;

/// A memory block and when it was last returned to the pool.
struct Pooled {
    blocks: Vec<Block>,
    returned: std::time::Instant,
}

/// Pooled memory unused this long is freed.
const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(30);

/// Allocations of at least this size are always served by `mmap` in glibc (its dynamic mmap
/// threshold never exceeds 32 MiB on 64-bit), so freeing them returns the memory to the OS
/// instead of leaving it in an arena. Blocks are allocated with at least this capacity; only
/// the pages argon2 touches (`m_cost`) become resident.
const ALWAYS_MMAPPED_BYTES: usize = 33 * 1024 * 1024;

/// Bounded argon2id hasher. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    memory: MemoryPool,
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        max_concurrent: usize,
        queue_timeout: Duration,
    ) -> Result<Self, InvalidHashParams> {
        let params =
            Params::new(memory_kib, iterations, parallelism, None).map_err(InvalidHashParams)?;
        let max = if max_concurrent == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            max_concurrent
        };
        let memory: MemoryPool = Arc::new(Mutex::new(Vec::new()));
        spawn_idle_release(Arc::downgrade(&memory));
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max)),
            queue_timeout,
            memory,
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// Number of memory blocks currently kept for reuse.
    pub fn pooled_blocks(&self) -> usize {
        self.memory.lock().expect("memory pool poisoned").len()
    }

    /// Frees pooled memory that has been idle for at least `idle` (the background task calls
    /// this with [`IDLE_RELEASE_AFTER`]).
    pub fn release_idle_memory(&self, idle: Duration) -> usize {
        release_idle(&self.memory, idle)
    }

    /// Runs `work` on the blocking pool once a hashing slot is free, lending it a memory block.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        .map_err(|_| HashError::Busy)?
        .map_err(|_| HashError::Closed)?;
        let pool = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = pool
                .lock()
                .expect("memory pool poisoned")
                .pop()
                .map(|pooled| pooled.blocks)
                .unwrap_or_default();
            let out = work(&mut memory);
            pool.lock().expect("memory pool poisoned").push(Pooled {
                blocks: memory,
                returned: std::time::Instant::now(),
            });
            out
        })
        .await
        .map_err(|e| HashError::Task(e.to_string()))
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move |memory| {
            let salt: [u8; 16] = rand::rng().random();
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            let failed =
                |what: &str, e: &dyn std::fmt::Display| HashError::Compute(format!("{what}: {e}"));
            compute(&argon2, password.as_bytes(), &salt, &mut out, memory)
                .map_err(|e| failed("argon2", &e))?;
            let phc = PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params).map_err(|e| failed("parameters", &e))?,
                salt: Some(Salt::new(&salt).map_err(|e| failed("salt", &e))?),
                hash: Some(Output::new(&out).map_err(|e| failed("output", &e))?),
            };
            Ok(phc.to_string())
        })
        .await?
    }

    /// Verifies `password` against `stored`; `None` runs a dummy verification so unknown
    /// accounts take as long as known ones.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let (stored, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy_hash().await?, false),
        };
        let expected = self.params.clone();
        self.run(move |memory| {
            let matches = real && check(&stored, password.as_bytes(), memory);
            let needs_rehash = matches
                && PasswordHash::new(&stored).is_ok_and(|parsed| {
                    parsed.algorithm != argon2::ARGON2ID_IDENT
                        || Params::try_from(&parsed).ok().is_none_or(|p| {
                            p.m_cost() != expected.m_cost()
                                || p.t_cost() != expected.t_cost()
                                || p.p_cost() != expected.p_cost()
                        })
                });
            Verified {
                matches,
                needs_rehash,
            }
        })
        .await
    }

    async fn dummy_hash(&self) -> Result<String, HashError> {
        self.dummy
            .get_or_try_init(|| self.hash("temponest-dummy-password-for-timing".to_owned()))
            .await
            .cloned()
    }
}

fn release_idle(pool: &Mutex<Vec<Pooled>>, idle: Duration) -> usize {
    let mut pool = pool.lock().expect("memory pool poisoned");
    let before = pool.len();
    pool.retain(|pooled| pooled.returned.elapsed() < idle);
    before - pool.len()
}

/// Frees idle pooled memory every 10 s, for as long as the hasher exists. Outside a Tokio
/// runtime (e.g. a CLI hashing once) nothing is pooled for long anyway, so nothing is spawned.
fn spawn_idle_release(pool: std::sync::Weak<Mutex<Vec<Pooled>>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let Some(pool) = pool.upgrade() else { return };
            release_idle(&pool, IDLE_RELEASE_AFTER);
        }
    });
}

/// argon2 into `out`, using (and growing if needed) the lent memory.
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> argon2::Result<()> {
    let needed = argon2.params().block_count();
    if memory.len() < needed {
        let capacity = needed.max(ALWAYS_MMAPPED_BYTES / std::mem::size_of::<Block>());
        let mut fresh = Vec::with_capacity(capacity);
        fresh.resize(needed, Block::new());
        *memory = fresh;
    }
    argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
}

/// Recomputes a stored PHC hash with its own parameters and compares in constant time.
fn check(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    if compute(&argon2, password, salt, &mut out, memory).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| &computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(memory_kib: u32) -> PasswordHasher {
        PasswordHasher::new(memory_kib, 1, 1, 2, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_match_the_reference_implementation() {
        use argon2::PasswordVerifier as _;
        let h = hasher(8 * 1024);
        let hash = h.hash("correct horse".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
        let good = h
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap();
        assert_eq!(
            good,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = h
            .verify("wrong horse".into(), Some(hash.clone()))
            .await
            .unwrap();
        assert!(!bad.matches);
        // The stock argon2 verifier agrees with our pooled-memory computation.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn memory_is_reused_between_hashes_and_freed_once_idle() {
        let h = hasher(8 * 1024);
        h.hash("first password".into()).await.unwrap();
        h.hash("second password".into()).await.unwrap();
        assert_eq!(h.pooled_blocks(), 1, "sequential hashes share one block");
        assert_eq!(h.release_idle_memory(Duration::from_secs(3600)), 0);
        assert_eq!(h.pooled_blocks(), 1);
        assert_eq!(h.release_idle_memory(Duration::ZERO), 1);
        assert_eq!(h.pooled_blocks(), 0);
        assert!(
            h.verify(
                "first password".into(),
                Some(h.hash("first password".into()).await.unwrap())
            )
            .await
            .unwrap()
            .matches
        );
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_verify_and_are_flagged_for_rehash() {
        use argon2::PasswordHasher as _;
        let foreign = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(9 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(b"s3cret password")
        .unwrap()
        .to_string();
        let h = hasher(8 * 1024);
        let verified = h
            .verify("s3cret password".into(), Some(foreign))
            .await
            .unwrap();
        assert_eq!(
            verified,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(
            !h.verify("x".into(), Some("not a hash".into()))
                .await
                .unwrap()
                .matches
        );
        assert!(
            !h.verify("s3cret password".into(), None)
                .await
                .unwrap()
                .matches
        );
    }
}
