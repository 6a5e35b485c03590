//! `auth.login_throttle`: per-email failed-login counting and lockout with a growing wait,
//! shared by every replica through Postgres.
//!
//! An attempt is *reserved* (counted as a failure) before the password is checked and only
//! cleared on success, so parallel guesses cannot slip past the threshold.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// Lockout tuning.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub threshold: i32,
    pub base_secs: i64,
    pub max_secs: i64,
}

/// Failures older than this no longer count.
const STREAK_RESET_AFTER: Duration = Duration::minutes(15);

/// Reserves one attempt. `Err(seconds)` when the account is locked.
pub async fn reserve_attempt(
    pool: &PgPool,
    email: &str,
    policy: LockoutPolicy,
) -> sqlx::Result<Result<(), i64>> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into auth.login_throttle (email) values ($1) on conflict (email) do nothing",
        email
    )
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query!(
        "select failed_count, lockouts, locked_until, updated_at from auth.login_throttle
         where email = $1 for update",
        email
    )
    .fetch_one(&mut *tx)
    .await?;
    let now = Utc::now();
    if let Some(until) = row.locked_until
        && until > now
    {
        tx.rollback().await?;
        return Ok(Err((until - now).num_seconds().max(1)));
    }
    let (mut failed, mut lockouts) = (row.failed_count, row.lockouts);
    if now - row.updated_at > STREAK_RESET_AFTER && row.locked_until.is_none() {
        (failed, lockouts) = (0, 0);
    }
    if row.locked_until.is_some() {
        // The lock expired: allow exactly one more attempt before locking again, longer.
        failed = policy.threshold - 1;
    }
    failed += 1;
    let mut locked_until: Option<DateTime<Utc>> = None;
    if failed > policy.threshold {
        lockouts += 1;
        let wait = policy
            .base_secs
            .saturating_mul(1i64 << (lockouts - 1).clamp(0, 20))
            .min(policy.max_secs);
        locked_until = Some(now + Duration::seconds(wait));
    }
    sqlx::query!(
        "update auth.login_throttle
         set failed_count = $2, lockouts = $3, locked_until = $4, updated_at = now()
         where email = $1",
        email,
        failed,
        lockouts,
        locked_until
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match locked_until {
        Some(until) => Err((until - now).num_seconds().max(1)),
        None => Ok(()),
    })
}

/// Clears the streak after a successful login.
pub async fn clear(pool: &PgPool, email: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update auth.login_throttle set failed_count = 0, lockouts = 0, locked_until = null,
         updated_at = now() where email = $1",
        email
    )
    .execute(pool)
    .await?;
    Ok(())
}
