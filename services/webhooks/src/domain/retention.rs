//! Retention of what the webhooks engine leaves behind: delivered deliveries (with their
//! attempts) after `retention_days`, failed ones after `failed_retention_days`, processed
//! outbox events after `outbox_retention_days` — in bounded batches
//! ([`temponest_db::retention`]), counted in `temponest_retention_purged_rows_total{table}`.
//! Unfinished deliveries and pending outbox events are never deleted. Every engine runs it
//! (purges skip rows another one is deleting).

use std::time::Duration;

use chrono::{DateTime, Utc};
use temponest_db::retention::purge;
use tokio_util::sync::CancellationToken;

use crate::config::DeliveryConfig;
use crate::db::deliveries;
use crate::state::AppState;

/// Purges every `retention_interval_secs` until `cancel` fires.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let every = Duration::from_secs(state.config.webhooks.retention_interval_secs.max(1));
    temponest_db::retention::run_every("webhooks", every, cancel, || {
        run_once(&state, &state.config.webhooks, Utc::now())
    })
    .await;
}

/// One retention run as of `now`; true if a table has more expired rows than one run
/// deletes.
pub async fn run_once(
    state: &AppState,
    config: &DeliveryConfig,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let pool = &state.pool;
    let mut more = false;
    if let Some(before) = cutoff(now, config.retention_days) {
        more |= purge("webhooks.deliveries", |n| {
            deliveries::purge_delivered(pool, before, n)
        })
        .await?
        .more;
    }
    if let Some(before) = cutoff(now, config.failed_retention_days) {
        more |= purge("webhooks.deliveries", |n| {
            deliveries::purge_failed(pool, before, n)
        })
        .await?
        .more;
    }
    if let Some(before) = cutoff(now, config.outbox_retention_days) {
        more |= purge("platform.outbox", |n| async move {
            let mut conn = pool.acquire().await?;
            temponest_outbox::purge_processed(&mut conn, before, n).await
        })
        .await?
        .more;
    }
    Ok(more)
}

/// `days` before `now`; `None` when 0 (kept forever).
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - chrono::Duration::days(i64::from(days)))
}
