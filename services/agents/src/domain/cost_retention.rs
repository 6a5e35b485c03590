//! Retention of `agents.cost_records`: every hour, records older than
//! `executions.cost_retention_days` (default 400; 0 keeps them) are deleted in bounded batches
//! ([`temponest_db::retention`], counted in
//! `temponest_retention_purged_rows_total{table="agents.cost_records"}`). Every replica runs
//! it; concurrent purges skip each other's rows.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use temponest_db::retention::{DEFAULT_BATCH, DEFAULT_MAX_BATCHES, Purged, purge_in_batches};
use tokio_util::sync::CancellationToken;

use crate::db::costs;

/// The table, as the purge metric labels it.
const TABLE: &str = "agents.cost_records";

/// How often expired cost records are looked for.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Purges every [`EVERY`] until the pool is closed; does nothing when `retention_days` is 0.
pub fn spawn(pool: PgPool, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    tokio::spawn(async move {
        temponest_db::retention::run_every(TABLE, EVERY, CancellationToken::new(), || async {
            Ok(run_once(&pool, retention_days, Utc::now()).await?.more)
        })
        .await;
    });
}

/// One run at `now`: deletes the cost records created more than `retention_days` days
/// before it (none when `retention_days` is 0).
pub async fn run_once(
    pool: &PgPool,
    retention_days: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<Purged> {
    if retention_days == 0 {
        return Ok(Purged::default());
    }
    let before = now - chrono::Duration::days(i64::from(retention_days));
    purge_in_batches(TABLE, DEFAULT_BATCH, DEFAULT_MAX_BATCHES, |n| {
        costs::purge_created_before(pool, before, n)
    })
    .await
}
