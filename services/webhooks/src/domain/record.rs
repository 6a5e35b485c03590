//! Recording attempts, in batches: the sender's attempt tasks hand their results to one
//! recorder task per engine, which writes everything that has accumulated in one transaction —
//! the `attempts` rows, the deliveries' new states (success, retry with backoff, or final
//! failure), the endpoints' health (410 Gone and persistent failure disable an endpoint and
//! publish `webhook.endpoint.disabled`) and leases given back unused. A result is written only
//! while the delivery's lease is still ours.
//!
//! One transaction per batch instead of one per attempt is what lets a sender keep up with
//! thousands of attempts per second. A batch that is not full waits `LINGER` (25 ms) for more
//! results first: at a few hundred attempts a second, writing each result on its own costs a
//! transaction (five round trips) per attempt, and its wake-ups delay every other process on
//! the machine (measured in `docs/performance.md`, issue 19). The transactions commit with
//! `synchronous_commit = off`: if Postgres itself crashes, the last fraction of a second of
//! results can be lost, and the deliveries they belonged to are sent again (same
//! `webhook-id`) once their leases expire — at-least-once delivery holds, as it does when the
//! sender itself dies before recording.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use temponest_outbox::catalogue;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::DeliveryConfig;
use crate::db::queue::{self, AttemptRows, DeliveryUpdates, ResponseColumns};
use crate::domain::attempt::{self, Result as AttemptResult};
use crate::models::delivery_state::{DeliveryOutcome, DeliveryStatus, ErrorClass};

/// Results written per transaction at most.
const MAX_BATCH: usize = 1000;
/// How long the recorder waits for more results before writing a batch that is not full: how
/// much later than its attempt a result can become visible.
const LINGER: Duration = Duration::from_millis(25);
/// Tries of a batch that fails to write (e.g. a deadlock on an endpoint row) before its
/// results are given up on (their leases expire and the deliveries are sent again).
const WRITE_TRIES: u32 = 3;

/// How a recorded attempt ended (the `outcome` label of `webhook_deliveries_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Retrying,
    Failed,
    Disabled,
    Blocked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Disabled => "disabled",
            Self::Blocked => "blocked",
        }
    }
}

/// What the sender hands to the recorder.
#[derive(Debug)]
pub enum Finished {
    /// An attempt was made.
    Attempt {
        delivery_id: Uuid,
        endpoint_id: Uuid,
        max_retries: i32,
        retry_delay_seconds: i32,
        result: AttemptResult,
    },
    /// The endpoint is disabled or deleted: fail the delivery without sending it.
    Unusable { delivery_id: Uuid },
    /// Not sent: give the lease back so any sender can claim the delivery again.
    Release { delivery_id: Uuid },
}

impl Finished {
    fn delivery_id(&self) -> Uuid {
        match self {
            Self::Attempt { delivery_id, .. }
            | Self::Unusable { delivery_id }
            | Self::Release { delivery_id } => *delivery_id,
        }
    }
}

/// The recorder task: writes what arrives on `results` until every sender of the channel is
/// gone, then returns (after writing the rest). Endpoints it disables are reported on
/// `disabled`, so that the sender stops sending what it has queued for them.
pub async fn run(
    pool: PgPool,
    me: Uuid,
    config: DeliveryConfig,
    mut results: mpsc::UnboundedReceiver<Finished>,
    disabled: mpsc::UnboundedSender<Uuid>,
) {
    // Every outcome's series exists from the start, so that rate() and increase() see its
    // first occurrence (alerts on `disabled`, say).
    for outcome in [
        Outcome::Success,
        Outcome::Retrying,
        Outcome::Failed,
        Outcome::Disabled,
        Outcome::Blocked,
    ] {
        metrics::counter!("webhook_deliveries_total", "outcome" => outcome.as_str()).increment(0);
    }
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while results.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() < MAX_BATCH {
            // A trickle of results (a few hundred a second) would otherwise be written one
            // transaction each, with the round trips and wake-ups each costs every sender and
            // publisher on the machine: gather what arrives within LINGER first.
            tokio::time::sleep(LINGER).await;
            while batch.len() < MAX_BATCH
                && let Ok(finished) = results.try_recv()
            {
                batch.push(finished);
            }
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match write(&pool, me, &config, &batch).await {
                Ok(written) => {
                    for endpoint_id in written.disabled {
                        let _ = disabled.send(endpoint_id);
                    }
                    for outcome in written.outcomes {
                        metrics::counter!("webhook_deliveries_total", "outcome" => outcome.as_str())
                            .increment(1);
                    }
                    break;
                }
                Err(err) if tries < WRITE_TRIES => {
                    tracing::debug!(error = %err, tries, "retrying a batch of webhook results");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(tries))).await;
                }
                Err(err) => {
                    // The leases expire and the deliveries are sent again.
                    tracing::warn!(error = %err, results = batch.len(), "could not record webhook results");
                    break;
                }
            }
        }
        batch.clear();
    }
}

/// What a batch wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// One per result recorded (results whose lease was lost are skipped).
    pub outcomes: Vec<Outcome>,
    /// Endpoints the batch disabled (or found disabled by another batch meanwhile).
    pub disabled: Vec<Uuid>,
}

/// Writes one batch in one transaction.
pub async fn write(
    pool: &PgPool,
    me: Uuid,
    config: &DeliveryConfig,
    batch: &[Finished],
) -> sqlx::Result<Written> {
    let mut tx = pool
        .begin_with("begin; set local synchronous_commit = off")
        .await?;
    let releases: Vec<Uuid> = batch
        .iter()
        .filter(|f| matches!(f, Finished::Release { .. }))
        .map(Finished::delivery_id)
        .collect();
    if !releases.is_empty() {
        queue::release(&mut tx, me, &releases).await?;
    }
    let ids: Vec<Uuid> = batch
        .iter()
        .filter(|f| !matches!(f, Finished::Release { .. }))
        .map(Finished::delivery_id)
        .collect();
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(Written::default());
    }
    let ours: HashMap<Uuid, i32> = queue::lock_ours(&mut tx, &ids, me)
        .await?
        .into_iter()
        .collect();
    let recorded = || {
        batch.iter().filter_map(|f| match f {
            Finished::Attempt {
                delivery_id,
                endpoint_id,
                result,
                ..
            } if ours.contains_key(delivery_id) => Some((*endpoint_id, result)),
            _ => None,
        })
    };

    // Health: each endpoint's latest result in the batch decides it; any 410 disables it.
    let mut latest: HashMap<Uuid, bool> = HashMap::new();
    let mut gone: HashSet<Uuid> = HashSet::new();
    for (endpoint_id, result) in recorded() {
        latest.insert(endpoint_id, result.ok());
        if result.status == Some(410) {
            gone.insert(endpoint_id);
        }
    }
    let mut health: Vec<(Uuid, bool)> = latest.into_iter().collect();
    health.sort_unstable_by_key(|(id, _)| *id);
    let (endpoint_ids, ok): (Vec<Uuid>, Vec<bool>) = health.into_iter().unzip();
    let failing = queue::record_health(&mut tx, &endpoint_ids, &ok).await?;
    let mut disabled: Vec<(Uuid, String)> = gone
        .into_iter()
        .map(|id| (id, "gone (410)".to_owned()))
        .collect();
    for f in failing {
        if f.secs > config.disable_after_failing_secs as f64
            && !disabled.iter().any(|(id, _)| *id == f.id)
        {
            disabled.push((f.id, format!("failing since {}", f.since.to_rfc3339())));
        }
    }
    disabled.sort_unstable_by_key(|(id, _)| *id);
    for (endpoint_id, reason) in &disabled {
        disable(&mut tx, *endpoint_id, reason).await?;
    }

    let mut attempts = AttemptRows::default();
    let mut updates = DeliveryUpdates::default();
    let mut outcomes = Vec::with_capacity(ours.len());
    for finished in batch {
        let Some(&count) = ours.get(&finished.delivery_id()) else {
            continue;
        };
        match finished {
            Finished::Release { .. } => {}
            Finished::Unusable { delivery_id } => {
                updates
                    .push_state(
                        *delivery_id,
                        DeliveryStatus::Failed,
                        Some(DeliveryOutcome::Disabled),
                        count,
                        None,
                    )
                    .push_unattempted("the endpoint is disabled or deleted");
                outcomes.push(Outcome::Disabled);
            }
            Finished::Attempt {
                delivery_id,
                endpoint_id,
                max_retries,
                retry_delay_seconds,
                result,
            } => {
                let attempt_count = count + 1;
                attempts.push(*delivery_id, attempt_count, result);
                use DeliveryOutcome as Finish;
                use DeliveryStatus::{Failed, Retrying, Success};
                let (state, finish, next, outcome) = if result.ok() {
                    (Success, Some(Finish::Delivered), None, Outcome::Success)
                } else if disabled.iter().any(|(id, _)| id == endpoint_id) {
                    (Failed, Some(Finish::Disabled), None, Outcome::Disabled)
                } else if result.error_class == Some(ErrorClass::Blocked) {
                    (Failed, Some(Finish::Blocked), None, Outcome::Blocked)
                } else if attempt_count > *max_retries {
                    (Failed, Some(Finish::Exhausted), None, Outcome::Failed)
                } else {
                    let delay =
                        attempt::backoff(*retry_delay_seconds, attempt_count, result.retry_after);
                    let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    (Retrying, None, Some(at), Outcome::Retrying)
                };
                updates
                    .push_state(*delivery_id, state, finish, attempt_count, next)
                    .push_attempt(result);
                outcomes.push(outcome);
            }
        }
    }
    queue::insert_attempts(&mut tx, &attempts).await?;
    queue::update_deliveries(&mut tx, &updates).await?;
    tx.commit().await?;
    Ok(Written {
        outcomes,
        disabled: disabled.into_iter().map(|(id, _)| id).collect(),
    })
}

impl AttemptRows {
    fn push(&mut self, delivery_id: Uuid, attempt: i32, result: &AttemptResult) {
        self.delivery_id.push(delivery_id);
        self.attempt.push(attempt);
        self.started_at.push(result.started_at);
        self.duration_ms
            .push(i32::try_from(result.duration.as_millis()).unwrap_or(i32::MAX));
        self.response.push_attempt(result);
    }
}

impl DeliveryUpdates {
    /// A delivery's new state; the caller pushes its response next, on what this returns.
    fn push_state(
        &mut self,
        id: Uuid,
        status: DeliveryStatus,
        outcome: Option<DeliveryOutcome>,
        attempt_count: i32,
        next_attempt_at: Option<chrono::DateTime<Utc>>,
    ) -> &mut ResponseColumns {
        self.id.push(id);
        self.status.push(status);
        self.outcome.push(outcome);
        self.attempt_count.push(attempt_count);
        self.next_attempt_at.push(next_attempt_at);
        &mut self.response
    }
}

impl ResponseColumns {
    /// What the attempt's receiver answered.
    fn push_attempt(&mut self, result: &AttemptResult) {
        self.status.push(result.status.map(i32::from));
        self.body.push(result.body.clone());
        self.error.push(result.error.clone());
        self.error_class.push(result.error_class);
    }

    /// No answer: the delivery failed without an attempt, for `error`.
    fn push_unattempted(&mut self, error: &str) {
        self.status.push(None);
        self.body.push(None);
        self.error.push(Some(error.to_owned()));
        self.error_class.push(None);
    }
}

/// Disables the endpoint and, if this call did it, publishes `webhook.endpoint.disabled`.
async fn disable(conn: &mut PgConnection, endpoint_id: Uuid, reason: &str) -> sqlx::Result<()> {
    if let Some(tenant_id) = queue::disable(conn, endpoint_id, reason).await? {
        tracing::warn!(%endpoint_id, reason, "webhook endpoint disabled");
        temponest_outbox::publish(
            conn,
            tenant_id,
            catalogue::WEBHOOK_ENDPOINT_DISABLED,
            &serde_json::json!({"webhook_id": endpoint_id, "reason": reason}),
        )
        .await?;
    }
    Ok(())
}
