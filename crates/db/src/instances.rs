//! Liveness of the processes that own work (`platform.instances`): one mechanism shared by
//! every engine that leases rows — the scheduler's runs, the webhook sender's deliveries, the
//! agents service's executions — so that a survivor recognises a dead owner within seconds
//! and releases its work at once instead of waiting for a lease or heartbeat to lapse.
//!
//! An [`Instance`] registers a row (id, role, host, pid) and, on a dedicated connection,
//! holds a session-level advisory lock (class [`LOCK_CLASS`], key `lock_key`) for as long as
//! it lives; it heartbeats the row every [`Liveness::every_ms`]. An instance is **dead** when
//!
//! - its lock is gone while its heartbeat is newer than the Postgres server's start: its
//!   session closed, which is what `kill -9` (or any crash) does — visible at once; or
//! - its heartbeat is older than [`Liveness::stale_after_ms`], counted from the server's start
//!   when that is later: a hung process or host, or one cut off from the database. After a
//!   Postgres restart every instance has that long to reconnect and lock again before it is
//!   judged, so a database restart never makes live peers look dead.
//!
//! [`reap`] deletes the dead rows of one role and, in the same transaction, lets the
//! service's [`Reaper`] release their work (`FOR UPDATE SKIP LOCKED`: one survivor does it).
//! An instance that was judged dead while alive (its lock connection broke) re-registers on
//! its next beat; the work it lost was released, and every write of leased work already
//! checks the lease, so it cannot overwrite the new owner's result.
//!
//! The lock needs session pooling: behind a transaction-pooling proxy only the heartbeat rule
//! applies.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The first key of every instance's advisory lock (the second is its `lock_key`).
pub const LOCK_CLASS: i32 = 7_470_111;

/// How often instances heartbeat and how stale a heartbeat may grow: the `liveness` section
/// of each service's configuration (`TEMPONEST_LIVENESS__EVERY_MS`,
/// `TEMPONEST_LIVENESS__STALE_AFTER_MS`; the same variables for every service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Liveness {
    /// Heartbeat and dead-peer check interval (default 2000 ms).
    pub every_ms: u64,
    /// A heartbeat older than this marks an instance dead even while its lock is held
    /// (default 6000 ms: three missed beats).
    pub stale_after_ms: u64,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            every_ms: 2000,
            stale_after_ms: 6000,
        }
    }
}

impl Liveness {
    pub fn every(&self) -> Duration {
        Duration::from_millis(self.every_ms)
    }

    pub fn stale_after(&self) -> Duration {
        Duration::from_millis(self.stale_after_ms)
    }

    /// Rejects settings that cannot work, naming the variable.
    pub fn validate(&self) -> Result<(), LivenessError> {
        if self.every_ms < 100 {
            return Err(LivenessError::BeatTooFast);
        }
        if self.stale_after_ms < 2 * self.every_ms {
            return Err(LivenessError::StaleTooSoon);
        }
        Ok(())
    }
}

/// Liveness settings that cannot work; the message names the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LivenessError {
    #[error("TEMPONEST_LIVENESS__EVERY_MS must be at least 100")]
    BeatTooFast,
    #[error(
        "TEMPONEST_LIVENESS__STALE_AFTER_MS must be at least twice EVERY_MS (a live instance may be a beat late)"
    )]
    StaleTooSoon,
}

/// Releases the work that dead instances of one role held.
pub trait Reaper: Send + Sync {
    /// The role whose dead instances this reaper handles (`scheduler`, `webhooks`, ...).
    fn role(&self) -> &'static str;

    /// Releases the work of `dead` in the caller's transaction; returns how many rows.
    fn release(
        &self,
        conn: &mut PgConnection,
        dead: &[Uuid],
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;
}

/// This process's (or engine's) registration: the row and the lock held on its own
/// connection. Dropping it (a crash) closes the connection, which frees the lock at once.
pub struct Instance {
    id: Uuid,
    role: &'static str,
    pool: PgPool,
    lock_key: i32,
    conn: Option<PgConnection>,
}

impl Instance {
    /// Registers `id` under `role`: takes the lock, then inserts the row, so the row is never
    /// visible without its lock.
    pub async fn register(pool: &PgPool, id: Uuid, role: &'static str) -> sqlx::Result<Self> {
        let mut instance = Self {
            id,
            role,
            pool: pool.clone(),
            lock_key: 0,
            conn: None,
        };
        instance.establish().await?;
        tracing::info!(instance = %id, role, "instance registered");
        Ok(instance)
    }

    /// The instance id (the owner id of the work this instance leases).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Records that the instance lives; reconnects and locks again if its connection broke,
    /// and registers again if a peer judged it dead meanwhile.
    pub async fn beat(&mut self) -> sqlx::Result<()> {
        if let Some(conn) = self.conn.as_mut() {
            match sqlx::query!(
                "update platform.instances set heartbeat_at = now() where id = $1",
                self.id
            )
            .execute(&mut *conn)
            .await
            {
                Ok(done) if done.rows_affected() == 1 => return Ok(()),
                Ok(_) => {
                    tracing::warn!(instance = %self.id, role = self.role, "this instance was judged dead by a peer (its work was released); registering again");
                }
                Err(err) => {
                    tracing::warn!(instance = %self.id, error = %err, "instance lock connection lost; reconnecting");
                    self.conn = None;
                }
            }
        }
        self.establish().await
    }

    /// Removes the registration (graceful shutdown, after the work was released).
    pub async fn deregister(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::query!("delete from platform.instances where id = $1", self.id)
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }

    /// Opens the lock connection if needed, takes a free lock key and upserts the row.
    async fn establish(&mut self) -> sqlx::Result<()> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => PgConnection::connect_with(&self.pool.connect_options()).await?,
        };
        let mut locked = self.lock_key != 0
            && sqlx::query_scalar!(
                r#"select pg_try_advisory_lock($1, $2) as "locked!""#,
                LOCK_CLASS,
                self.lock_key
            )
            .fetch_one(&mut conn)
            .await?;
        while !locked {
            // A fresh key; one still held (a session of ours not yet closed by the server, or
            // a wrapped sequence) is passed over.
            self.lock_key = sqlx::query_scalar!(
                r#"select nextval(pg_get_serial_sequence('platform.instances', 'lock_key'))::int4 as "key!""#
            )
            .fetch_one(&mut conn)
            .await?;
            locked = sqlx::query_scalar!(
                r#"select pg_try_advisory_lock($1, $2) as "locked!""#,
                LOCK_CLASS,
                self.lock_key
            )
            .fetch_one(&mut conn)
            .await?;
        }
        sqlx::query!(
            "insert into platform.instances (id, role, host, pid, lock_key)
             values ($1, $2, $3, $4, $5)
             on conflict (id) do update set heartbeat_at = now(), lock_key = excluded.lock_key",
            self.id,
            self.role,
            host(),
            std::process::id() as i32,
            self.lock_key
        )
        .execute(&mut conn)
        .await?;
        self.conn = Some(conn);
        Ok(())
    }
}

/// Finds the dead instances of `reaper`'s role (other than `me`), releases their work and
/// deletes their rows in one transaction; returns their ids.
pub async fn reap<R: Reaper>(
    pool: &PgPool,
    me: Uuid,
    liveness: Liveness,
    reaper: &R,
) -> sqlx::Result<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    let dead = sqlx::query_scalar!(
        "delete from platform.instances
         where id in (
             select i.id from platform.instances i
             where i.role = $1 and i.id <> $2
               and (greatest(i.heartbeat_at, pg_postmaster_start_time())
                        < now() - make_interval(secs => $3)
                    or (i.heartbeat_at > pg_postmaster_start_time()
                        and not exists (
                            select 1 from pg_locks l
                            where l.locktype = 'advisory' and l.granted and l.objsubid = 2
                              and l.database = (select oid from pg_database
                                                where datname = current_database())
                              and l.classid = $4::int4::oid
                              and l.objid = i.lock_key::oid)))
             for update of i skip locked)
         returning id",
        reaper.role(),
        me,
        liveness.stale_after().as_secs_f64(),
        LOCK_CLASS
    )
    .fetch_all(&mut *tx)
    .await?;
    if dead.is_empty() {
        tx.rollback().await?;
        return Ok(dead);
    }
    let released = reaper.release(&mut tx, &dead).await?;
    tx.commit().await?;
    tracing::warn!(role = reaper.role(), dead = ?dead, released, "released the work of dead instances");
    metrics::counter!("instances_reaped_total", "role" => reaper.role())
        .increment(dead.len() as u64);
    Ok(dead)
}

/// Registers `id` under `reaper`'s role (retrying every `liveness.every` while the
/// database is unreachable), then [`keep_alive`]s it until `cancel` fires.
pub async fn live<R: Reaper>(
    pool: PgPool,
    id: Uuid,
    liveness: Liveness,
    reaper: R,
    cancel: CancellationToken,
) {
    let instance = loop {
        match Instance::register(&pool, id, reaper.role()).await {
            Ok(instance) => break instance,
            Err(err) => {
                tracing::warn!(instance = %id, error = %err, "could not register the instance; retrying");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = pool.close_event() => return,
            () = tokio::time::sleep(liveness.every()) => {}
        }
    };
    keep_alive(instance, liveness, reaper, cancel).await;
}

/// Heartbeats `instance` and reaps dead peers of its role every `liveness.every` (the first
/// reap at once) until `cancel` fires or the pool is closed; then deregisters.
pub async fn keep_alive<R: Reaper>(
    mut instance: Instance,
    liveness: Liveness,
    reaper: R,
    cancel: CancellationToken,
) {
    loop {
        if let Err(err) = reap(&instance.pool, instance.id, liveness, &reaper).await {
            tracing::warn!(role = instance.role, error = %err, "could not look for dead instances");
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            // The process is closing its pool: stop, and close the lock connection (it is not
            // the pool's; left open it would keep a session on the database).
            () = instance.pool.close_event() => break,
            () = tokio::time::sleep(liveness.every()) => {}
        }
        if let Err(err) = instance.beat().await {
            tracing::warn!(instance = %instance.id, error = %err, "instance heartbeat failed");
        }
    }
    instance.deregister().await;
}

/// The host name, for operators reading `platform.instances`.
fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
