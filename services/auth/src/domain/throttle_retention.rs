//! Retention of `auth.login_throttle`: every few minutes, rows whose failed-login window and
//! lockout are over are deleted in bounded batches ([`temponest_db::retention`], counted in
//! `temponest_retention_purged_rows_total{table="auth.login_throttle"}`).

use std::time::Duration;

use sqlx::PgPool;
use temponest_db::retention::purge;
use tokio_util::sync::CancellationToken;

use crate::db::throttle;

/// How often expired rows are looked for.
pub const EVERY: Duration = Duration::from_secs(600);

/// Purges every [`EVERY`] until the pool is closed.
pub fn spawn(pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        temponest_db::retention::run_every(
            "auth.login_throttle",
            EVERY,
            CancellationToken::new(),
            || run_once(&pool),
        )
        .await;
    })
}

/// One run; true if more expired rows are left than one run deletes.
pub async fn run_once(pool: &PgPool) -> sqlx::Result<bool> {
    let purged = purge("auth.login_throttle", |n| throttle::purge_expired(pool, n)).await?;
    Ok(purged.more)
}
