//! Password rules and argon2id hashing. Hashing runs on the blocking pool behind a semaphore
//! sized to the CPUs, so a login flood queues (and is answered 503 when the queue wait
//! exceeds its limit) instead of starving the async runtime.

use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use temponest_web::ApiError;
use tokio::sync::{OnceCell, Semaphore};

/// Minimum and maximum password length in characters (SPEC §3).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Checks the password rules; returns the message for the `password` field.
pub fn validate(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("must be at least {MIN_LEN} characters"));
    }
    if chars > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} characters"));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err("must not be a single repeated character".to_owned());
    }
    Ok(())
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash used other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// Bounded argon2id hasher. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        max_concurrent: usize,
        queue_timeout: Duration,
    ) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let max = if max_concurrent == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            max_concurrent
        };
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max)),
            queue_timeout,
            dummy: Arc::new(OnceCell::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        .map_err(|_| ApiError::unavailable("password hashing queue is full"))?
        .map_err(|_| ApiError::unavailable("password hasher closed"))?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(argon2)
        })
        .await
        .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move |argon2| {
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| ApiError::internal(format!("hashing failed: {e}")))
        })
        .await?
    }

    /// Verifies `password` against `stored`; `None` runs a dummy verification so unknown
    /// accounts take as long as known ones.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, ApiError> {
        let (stored, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy_hash().await?, false),
        };
        let expected = self.params.clone();
        self.run(move |argon2| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified {
                    matches: false,
                    needs_rehash: false,
                };
            };
            let matches = argon2.verify_password(password.as_bytes(), &parsed).is_ok() && real;
            let needs_rehash = matches
                && (parsed.algorithm.as_str() != "argon2id"
                    || Params::try_from(&parsed).map_or(true, |p| {
                        p.m_cost() != expected.m_cost()
                            || p.t_cost() != expected.t_cost()
                            || p.p_cost() != expected.p_cost()
                    }));
            Verified {
                matches,
                needs_rehash,
            }
        })
        .await
    }

    async fn dummy_hash(&self) -> Result<String, ApiError> {
        self.dummy
            .get_or_try_init(|| self.hash("temponest-dummy-password-for-timing".to_owned()))
            .await
            .cloned()
    }
}
