//! `auth.login_throttle`: per-email failed-login counting and lockout with a growing wait,
//! shared by every replica through Postgres.
//!
//! Before a password is checked, the attempt takes an *in-flight slot*; completed failures
//! plus attempts in flight may never exceed the lockout threshold, so parallel guesses cannot
//! slip past it. Parallel correct logins only ever see a short "busy, retry" answer, never a
//! lockout. A slot left by a crashed process is reclaimed after [`IN_FLIGHT_STALE_AFTER`].
//!
//! A row whose streak window and lockout are both over only says what a missing row says, so
//! [`purge_expired`] deletes it: the table holds the emails tried lately, not every email
//! ever tried.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool};

/// Lockout tuning.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub threshold: i32,
    pub base_secs: i64,
    pub max_secs: i64,
}

/// Failures older than this no longer count.
const STREAK_RESET_AFTER: Duration = Duration::minutes(15);
/// In-flight slots older than this belong to attempts that died with their process.
const IN_FLIGHT_STALE_AFTER: Duration = Duration::seconds(30);

/// Whether an attempt may check a password now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Granted,
    /// The account is locked for this many more seconds.
    Locked(i64),
    /// Enough attempts are in flight to reach the threshold if they all failed.
    Busy,
}

struct Row {
    failed_count: i32,
    lockouts: i32,
    locked_until: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    in_flight: i32,
    in_flight_since: Option<DateTime<Utc>>,
}

async fn lock_row(conn: &mut PgConnection, email: &str) -> sqlx::Result<Row> {
    sqlx::query!(
        "insert into auth.login_throttle (email) values ($1) on conflict (email) do nothing",
        email
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_as!(
        Row,
        "select failed_count, lockouts, locked_until, updated_at, in_flight, in_flight_since
         from auth.login_throttle where email = $1 for update",
        email
    )
    .fetch_one(conn)
    .await
}

async fn store(conn: &mut PgConnection, email: &str, row: &Row) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.login_throttle
         set failed_count = $2, lockouts = $3, locked_until = $4, in_flight = $5,
             in_flight_since = $6, updated_at = now()
         where email = $1",
        email,
        row.failed_count,
        row.lockouts,
        row.locked_until,
        row.in_flight,
        row.in_flight_since
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes an in-flight slot for one attempt, unless the account is locked or busy.
pub async fn reserve_attempt(
    pool: &PgPool,
    email: &str,
    policy: LockoutPolicy,
) -> sqlx::Result<Reservation> {
    let mut tx = pool.begin().await?;
    let mut row = lock_row(&mut tx, email).await?;
    let now = Utc::now();
    if let Some(until) = row.locked_until {
        if until > now {
            tx.rollback().await?;
            return Ok(Reservation::Locked((until - now).num_seconds().max(1)));
        }
        // The lock expired: allow exactly one more attempt before locking again, longer.
        row.locked_until = None;
        row.failed_count = policy.threshold - 1;
    } else if now - row.updated_at > STREAK_RESET_AFTER {
        row.failed_count = 0;
        row.lockouts = 0;
    }
    if row
        .in_flight_since
        .is_none_or(|since| now - since > IN_FLIGHT_STALE_AFTER)
    {
        row.in_flight = 0;
    }
    if row.failed_count + row.in_flight >= policy.threshold {
        tx.rollback().await?;
        return Ok(Reservation::Busy);
    }
    row.in_flight += 1;
    row.in_flight_since = Some(now);
    store(&mut tx, email, &row).await?;
    tx.commit().await?;
    Ok(Reservation::Granted)
}

/// Records the outcome of a granted attempt: success clears the streak, failure counts and
/// locks the account once the threshold is reached. Returns the lock duration if it locked.
pub async fn finish_attempt(
    pool: &PgPool,
    email: &str,
    succeeded: bool,
    policy: LockoutPolicy,
) -> sqlx::Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let mut row = lock_row(&mut tx, email).await?;
    row.in_flight = (row.in_flight - 1).max(0);
    let mut locked_for = None;
    if succeeded {
        row.failed_count = 0;
        row.lockouts = 0;
        row.locked_until = None;
    } else {
        row.failed_count += 1;
        if row.failed_count >= policy.threshold {
            row.lockouts += 1;
            let wait = policy
                .base_secs
                .saturating_mul(1i64 << (row.lockouts - 1).clamp(0, 20))
                .min(policy.max_secs);
            row.locked_until = Some(Utc::now() + Duration::seconds(wait));
            locked_for = Some(wait);
        }
    }
    store(&mut tx, email, &row).await?;
    tx.commit().await?;
    Ok(locked_for)
}

/// Gives a slot back without counting the attempt (it failed for reasons other than the
/// password, e.g. the database).
pub async fn release_attempt(pool: &PgPool, email: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.login_throttle set in_flight = greatest(in_flight - 1, 0) where email = $1",
        email
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes up to `limit` rows untouched for the streak window whose lockout (if any) also
/// ended that long ago (`login_throttle_updated_idx`); rows another purge is deleting are
/// skipped. Returns how many went.
pub async fn purge_expired(pool: &PgPool, limit: i64) -> sqlx::Result<u64> {
    let window = STREAK_RESET_AFTER.num_seconds() as f64;
    temponest_db::delete_batch!(pool, "auth.login_throttle" by "email",
        where "updated_at < now() - make_interval(secs => $1)
               and (locked_until is null or locked_until < now() - make_interval(secs => $1))
               limit $2",
        [window, limit])
    .await
}
