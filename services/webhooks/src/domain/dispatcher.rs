//! The dispatcher: fans transactional-outbox events out into deliveries, one per active
//! endpoint of the event's tenant subscribed to its type (or to `*`).
//!
//! Each round is one transaction: claim pending outbox rows (`FOR UPDATE SKIP LOCKED`, so any
//! number of dispatchers can run), insert the deliveries (`ON CONFLICT DO NOTHING`, so a
//! re-run is harmless), mark the events processed — one statement, so one round trip: the
//! outbox's claim ([`temponest_outbox::claim_with!`]) with this service's fan-out
//! ([`queue::dispatch`]) spliced in. New deliveries are leased to the sender of the same
//! engine in that transaction and handed to it after commit, as many as it has room for
//! ([`Handoff`]); if any are left over, the round `pg_notify`s the senders. It wakes on the
//! outbox's `NOTIFY` and polls every `poll_interval_ms` in case a notification was missed.
//! Rounds commit asynchronously (see [`queue::dispatch`]).
//!
//! Tenants' own events (`POST /events`) skip the rounds: [`publish`] records them already
//! processed with the same fan-out in the publishing statement.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::queue::{self, FanOut, Lease};
use crate::domain::sender::Handoff;
use crate::state::AppState;

/// Runs until `cancel` fires; new deliveries go to the sender through `handoff`, which wakes
/// it whenever some were left for it to claim.
pub async fn run(state: AppState, handoff: Handoff, cancel: CancellationToken) {
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
        match dispatch(&state.pool, batch, handoff.lease()).await {
            Ok(fan_out) => {
                errors = 0;
                let events = fan_out.events;
                handoff.deliver(fan_out);
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

/// One round without a sender to hand deliveries to. Returns (events, deliveries created).
pub async fn round(pool: &PgPool, batch: i64) -> sqlx::Result<(usize, u64)> {
    let fan_out = dispatch(pool, batch, None).await?;
    Ok((fan_out.events, fan_out.created as u64))
}

/// One round: claim, fan out (leasing up to `lease.max` new deliveries), mark processed — one
/// statement, one transaction.
async fn dispatch(pool: &PgPool, batch: i64, lease: Option<Lease>) -> sqlx::Result<FanOut> {
    let mut conn = pool.acquire().await?;
    let fan_out = queue::dispatch(&mut conn, batch, lease).await?;
    if fan_out.events == 0 {
        return Ok(fan_out);
    }
    metrics::counter!("webhook_dispatched_events_total").increment(fan_out.events as u64);
    tracing::debug!(
        events = fan_out.events,
        created = fan_out.created,
        "dispatched outbox events"
    );
    Ok(fan_out)
}

/// Publishes an application's event (`POST /events`) already dispatched: its deliveries are
/// created with it in one statement ([`queue::publish`]) and handed to this process's sender,
/// so no dispatcher round stands between the acknowledged event and its delivery. `keyed`:
/// the event id comes from an idempotency key, so the event is recorded in the outbox and a
/// repeat publishes nothing. Returns whether the event was published (a repeat is not).
pub async fn publish(
    state: &AppState,
    event_id: Uuid,
    tenant_id: Uuid,
    event_type: &str,
    payload: &serde_json::Value,
    keyed: bool,
) -> sqlx::Result<bool> {
    let event =
        temponest_outbox::consumer::consumed_event(event_id, tenant_id, event_type, payload);
    let handoff = state.engine.handoff();
    let lease = handoff.as_ref().and_then(Handoff::lease);
    let fan_out = {
        let mut conn = state.pool.acquire().await?;
        queue::publish(&mut conn, &event, lease, keyed).await?
    };
    let recorded = fan_out.events > 0;
    if recorded {
        metrics::counter!("webhook_dispatched_events_total").increment(1);
    }
    // Without an engine here, the statement notified the senders of what it left unleased.
    if let Some(handoff) = handoff {
        handoff.deliver(fan_out);
    }
    Ok(recorded)
}
