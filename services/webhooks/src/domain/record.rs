//! Recording an attempt in one transaction: the `attempts` row, the delivery's new state
//! (success, retry with backoff, or final failure) and the endpoint's health (410 Gone and
//! persistent failure disable it and publish `webhook.endpoint.disabled`). Nothing is written
//! unless the delivery's lease is still ours.

use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use temponest_outbox::catalogue;
use uuid::Uuid;

use crate::config::DeliveryConfig;
use crate::db::queue::{self, AttemptRow, Claimed, DeliveryUpdate, Target};
use crate::domain::attempt::{self, Result as AttemptResult};

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

/// Records `result` for `delivery`; `None` when the lease was lost (another sender owns it).
pub async fn attempt(
    pool: &PgPool,
    me: Uuid,
    config: &DeliveryConfig,
    delivery: &Claimed,
    target: &Target,
    result: &AttemptResult,
) -> sqlx::Result<Option<Outcome>> {
    let mut tx = pool.begin().await?;
    let Some(count) = queue::lock_if_ours(&mut tx, delivery.id, me).await? else {
        return Ok(None);
    };
    let attempt_count = count + 1;
    let status = result.status.map(i32::from);
    queue::insert_attempt(
        &mut tx,
        &AttemptRow {
            delivery_id: delivery.id,
            attempt: attempt_count,
            started_at: result.started_at,
            duration_ms: i32::try_from(result.duration.as_millis()).unwrap_or(i32::MAX),
            response_status: status,
            response_body: result.body.as_deref(),
            error_class: result.error_class,
            error: result.error.as_deref(),
        },
    )
    .await?;
    let mut update = DeliveryUpdate {
        id: delivery.id,
        status: "success",
        outcome: Some("delivered"),
        attempt_count,
        next_attempt_at: None,
        response_status: status,
        response_body: result.body.as_deref(),
        error: result.error.as_deref(),
        error_class: result.error_class,
    };
    let outcome = if result.ok() {
        queue::mark_healthy(&mut tx, target.id).await?;
        Outcome::Success
    } else {
        let failing_for = queue::mark_failing(&mut tx, target.id).await?;
        let reason = if result.status == Some(410) {
            Some("gone (410)".to_owned())
        } else if failing_for.is_some_and(|secs| secs > config.disable_after_failing_secs as f64) {
            let since = queue::failing_since(&mut tx, target.id).await?;
            Some(format!(
                "failing since {}",
                since.map(|t| t.to_rfc3339()).unwrap_or_default()
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            disable(&mut tx, target.id, &reason).await?;
            update.status = "failed";
            update.outcome = Some("disabled");
            Outcome::Disabled
        } else if result.error_class == Some("blocked") {
            update.status = "failed";
            update.outcome = Some("blocked");
            Outcome::Blocked
        } else if attempt_count > target.max_retries {
            update.status = "failed";
            update.outcome = Some("exhausted");
            Outcome::Failed
        } else {
            let delay = attempt::backoff(
                target.retry_delay_seconds,
                attempt_count,
                result.retry_after,
            );
            update.status = "retrying";
            update.outcome = None;
            update.next_attempt_at =
                Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default());
            Outcome::Retrying
        }
    };
    queue::update_delivery(&mut tx, &update).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Fails a delivery of a disabled or deleted endpoint without sending it.
pub async fn unusable(pool: &PgPool, me: Uuid, delivery: &Claimed) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(count) = queue::lock_if_ours(&mut tx, delivery.id, me).await? else {
        return Ok(false);
    };
    queue::update_delivery(
        &mut tx,
        &DeliveryUpdate {
            id: delivery.id,
            status: "failed",
            outcome: Some("disabled"),
            attempt_count: count,
            next_attempt_at: None,
            response_status: None,
            response_body: None,
            error: Some("the endpoint is disabled or deleted"),
            error_class: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
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
