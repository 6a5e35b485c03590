//! [`SharedConnection`]: one multiplexed Redis connection used by every caller at once.
//!
//! A deadpool checkout of a Redis connection costs a round trip of its own: the pool's manager
//! verifies each connection it hands out with `UNWATCH` + `PING`. A multiplexed connection
//! needs no exclusive checkout — concurrent commands are pipelined on it — so the cache and
//! the rate limiter take one from the pool once and clone its handle for every command. A
//! command that fails (the connection broke, Redis went away) drops the shared handle, and
//! the next command takes a fresh, verified one from the pool.

use std::sync::{Mutex, PoisonError};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::{Pool, PoolError};

/// A pool's connection, shared (cheap to clone behind an `Arc`, safe to use concurrently).
pub struct SharedConnection {
    pool: Pool,
    current: Mutex<Option<MultiplexedConnection>>,
}

impl SharedConnection {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            current: Mutex::new(None),
        }
    }

    /// The pool the connection comes from.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A handle on the shared connection; the first call (and the first after [`reset`]) takes
    /// it from the pool.
    ///
    /// [`reset`]: Self::reset
    pub async fn get(&self) -> Result<MultiplexedConnection, PoolError> {
        if let Some(connection) = self.lock().as_ref() {
            return Ok(connection.clone());
        }
        let pooled = self.pool.get().await?;
        let connection = MultiplexedConnection::clone(&pooled);
        *self.lock() = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the shared handle after a failed command: the next [`get`](Self::get) takes a
    /// verified connection from the pool.
    pub fn reset(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("connected", &self.lock().is_some())
            .finish_non_exhaustive()
    }
}
