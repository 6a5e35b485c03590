//! The dispatcher: fans transactional-outbox events out into deliveries, one per active
//! endpoint of the event's tenant subscribed to its type (or to `*`).
//!
//! Each round is one transaction: claim pending outbox rows (`FOR UPDATE SKIP LOCKED`, so any
//! number of dispatchers can run), insert the deliveries (`ON CONFLICT DO NOTHING`, so a
//! re-run is harmless), mark the events processed, `pg_notify` the senders, commit. It wakes on
//! the outbox's `NOTIFY` and polls every `poll_interval_ms` in case a notification was missed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::db::queue;
use crate::state::AppState;

/// Runs until `cancel` fires; `sender` is woken whenever deliveries were created.
pub async fn run(state: AppState, sender: Arc<Notify>, cancel: CancellationToken) {
    let nudge = Arc::new(Notify::new());
    let listener = tokio::spawn(temponest_db::listen(
        state.pool.clone(),
        temponest_outbox::NOTIFY_CHANNEL,
        nudge.clone(),
        cancel.clone(),
    ));
    let poll = Duration::from_millis(state.config.webhooks.poll_interval_ms.max(10));
    let batch = state.config.webhooks.batch_size;
    let mut errors = 0u32;
    loop {
        match round(&state.pool, batch).await {
            Ok((events, created)) => {
                errors = 0;
                if created > 0 {
                    sender.notify_one();
                }
                if events as i64 >= batch {
                    continue; // a full batch: there may be more right away
                }
            }
            Err(err) => {
                errors += 1;
                tracing::warn!(error = %err, "webhook dispatch round failed");
            }
        }
        let wait = poll * 2u32.pow(errors.min(5));
        tokio::select! {
            () = cancel.cancelled() => break,
            () = nudge.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    listener.abort();
}

/// One transaction: claim, fan out, mark processed. Returns (events, deliveries created).
pub async fn round(pool: &PgPool, batch: i64) -> sqlx::Result<(usize, u64)> {
    let mut tx = pool.begin().await?;
    let events = temponest_outbox::claim_pending(&mut tx, batch).await?;
    if events.is_empty() {
        tx.rollback().await?;
        return Ok((0, 0));
    }
    let created = queue::fan_out(&mut tx, &events).await?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    temponest_outbox::mark_processed(&mut tx, &ids).await?;
    tx.commit().await?;
    metrics::counter!("webhook_dispatched_events_total").increment(events.len() as u64);
    tracing::debug!(events = events.len(), created, "dispatched outbox events");
    Ok((events.len(), created))
}
