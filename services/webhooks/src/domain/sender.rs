//! The sender: claims due deliveries under a lease and sends each in its own task.
//!
//! **Fairness.** Every attempt holds a permit of its endpoint's semaphore
//! (`per_endpoint_concurrency`) and of its tenant's (`per_tenant_concurrency`), taken with
//! `try_acquire`, never awaited, so the claim loop never waits on a busy endpoint. Claims
//! exclude endpoints and tenants whose permits are all taken in this process (and endpoints
//! over their `per_endpoint_rate_per_sec`); a delivery claimed anyway in a race gets its lease
//! released at once (`lease_until = null`) and is claimed again once a permit frees up. A slow
//! or dead receiver therefore ties up at most its own permits, never the loop or other
//! endpoints.
//!
//! **Leases.** A claim leases the delivery for `lease_secs` (> the attempt timeout) to this
//! sender's id; results are written only while the lease is still ours. If the process dies,
//! the lease expires and any sender claims the delivery again — same `webhook-id` (the event
//! id), so delivery is at-least-once with receiver de-duplication. On shutdown the sender stops
//! claiming, waits up to [`SHUTDOWN_GRACE`] for attempts in flight and releases every lease it
//! still holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{queue, secrets};
use crate::domain::attempt::{self, Outgoing};
use crate::domain::record;
use crate::state::AppState;

/// How long shutdown waits for attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the queue gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// What every attempt task shares.
struct Ctx {
    state: AppState,
    me: Uuid,
    client: reqwest::Client,
    endpoints: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
    tenants: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
    /// Per endpoint: when it may be sent to next (rate limit).
    next_allowed: Mutex<HashMap<Uuid, Instant>>,
}

/// Runs until `cancel` fires; `wake` is notified by the dispatcher in this process.
pub async fn run(state: AppState, me: Uuid, wake: Arc<Notify>, cancel: CancellationToken) {
    let config = &state.config.webhooks;
    let client = match state
        .policy
        .client_builder()
        .timeout(Duration::from_secs(config.timeout_secs))
        .connect_timeout(Duration::from_secs(config.timeout_secs.min(5)))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the webhook HTTP client");
            return;
        }
    };
    let poll = Duration::from_millis(config.poll_interval_ms.max(10));
    let ctx = Arc::new(Ctx {
        state: state.clone(),
        me,
        client,
        endpoints: Mutex::default(),
        tenants: Mutex::default(),
        next_allowed: Mutex::default(),
    });
    let listener = tokio::spawn(temponest_db::listen(
        state.pool.clone(),
        queue::DELIVERIES_CHANNEL,
        wake.clone(),
        cancel.clone(),
    ));
    let gauges = tokio::spawn(report_gauges(state.clone(), cancel.clone()));
    let mut tasks = JoinSet::new();
    let mut errors = 0u32;
    while !cancel.is_cancelled() {
        match claim_round(&ctx, &mut tasks).await {
            Ok(full) if full => continue,
            Ok(_) => errors = 0,
            Err(err) => {
                errors += 1;
                tracing::warn!(error = %err, "webhook claim round failed");
            }
        }
        let wait = poll * 2u32.pow(errors.min(5));
        tokio::select! {
            () = cancel.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    listener.abort();
    gauges.abort();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = tasks.len(),
            "abandoning webhook attempts at shutdown"
        );
        tasks.shutdown().await;
    }
    let released = async {
        let mut conn = state.pool.acquire().await?;
        queue::release_all(&mut conn, me).await
    };
    match released.await {
        Ok(n) if n > 0 => tracing::info!(released = n, "released webhook delivery leases"),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not release leases at shutdown"),
    }
}

/// Claims one batch and starts what can start; `true` if the batch was full.
async fn claim_round(ctx: &Arc<Ctx>, tasks: &mut JoinSet<()>) -> sqlx::Result<bool> {
    let config = &ctx.state.config.webhooks;
    let (busy_endpoints, busy_tenants) = ctx.busy();
    let mut conn = ctx.state.pool.acquire().await?;
    let claimed = queue::claim(
        &mut conn,
        ctx.me,
        config.lease_secs as f64,
        config.batch_size,
        &busy_endpoints,
        &busy_tenants,
    )
    .await?;
    if claimed.is_empty() {
        return Ok(false);
    }
    let mut ids: Vec<Uuid> = claimed.iter().map(|d| d.endpoint_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let targets: HashMap<Uuid, queue::Target> = queue::targets(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let full = claimed.len() as i64 >= config.batch_size;
    let mut release = Vec::new();
    let mut started = 0usize;
    for delivery in claimed {
        let Some(target) = targets.get(&delivery.endpoint_id).cloned() else {
            release.push(delivery.id);
            continue;
        };
        if !target.usable {
            let ctx = ctx.clone();
            tasks.spawn(async move {
                match record::unusable(&ctx.state.pool, ctx.me, &delivery).await {
                    Ok(true) => count("disabled"),
                    Ok(false) => {}
                    Err(err) => tracing::warn!(error = %err, "could not fail a delivery"),
                }
            });
            continue;
        }
        let Some(permits) = ctx.permits(&delivery) else {
            release.push(delivery.id);
            continue;
        };
        started += 1;
        let ctx = ctx.clone();
        tasks.spawn(async move {
            deliver(&ctx, delivery, target).await;
            drop(permits);
        });
    }
    if !release.is_empty() {
        queue::release(&mut conn, ctx.me, &release).await?;
    }
    Ok(full && started > 0)
}

/// Sends one attempt and records it.
async fn deliver(ctx: &Ctx, delivery: queue::Claimed, target: queue::Target) {
    let config = &ctx.state.config.webhooks;
    let signing = async {
        let mut conn = ctx.state.pool.acquire().await?;
        secrets::signing(&mut conn, target.id).await
    };
    let secrets = match signing.await {
        Ok(secrets) => secrets,
        Err(err) => {
            // The lease expires and the delivery is tried again.
            tracing::warn!(error = %err, "could not load signing secrets");
            return;
        }
    };
    let out = Outgoing {
        url: &target.url,
        webhook_id: delivery.event_id.to_string(),
        event_type: &delivery.event_type,
        event_created_at: delivery.event_created_at,
        payload: &delivery.payload,
        static_headers: &target.headers,
        secrets: &secrets,
    };
    let result = attempt::send(
        &ctx.client,
        &ctx.state.policy,
        &out,
        config.max_response_body_bytes,
    )
    .await;
    metrics::histogram!("webhook_attempt_duration_seconds").record(result.duration.as_secs_f64());
    match record::attempt(&ctx.state.pool, ctx.me, config, &delivery, &target, &result).await {
        Ok(Some(outcome)) => count(outcome.as_str()),
        Ok(None) => tracing::info!(delivery = %delivery.id, "lease lost; result not recorded"),
        Err(err) => {
            tracing::warn!(error = %err, delivery = %delivery.id, "could not record attempt")
        }
    }
}

fn count(outcome: &'static str) {
    metrics::counter!("webhook_deliveries_total", "outcome" => outcome).increment(1);
}

impl Ctx {
    /// Endpoints and tenants this process cannot start an attempt for right now.
    fn busy(&self) -> (Vec<Uuid>, Vec<Uuid>) {
        let saturated = |map: &Mutex<HashMap<Uuid, Arc<Semaphore>>>, max: usize| {
            let mut map = map.lock().expect("semaphores");
            // Forget idle semaphores so the maps do not grow without bound.
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < max);
            map.iter()
                .filter(|(_, s)| s.available_permits() == 0)
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
        };
        let config = &self.state.config.webhooks;
        let mut endpoints = saturated(&self.endpoints, config.per_endpoint_concurrency);
        let now = Instant::now();
        let mut next = self.next_allowed.lock().expect("rate limits");
        next.retain(|_, at| *at > now);
        endpoints.extend(next.keys().copied());
        let tenants = saturated(&self.tenants, config.per_tenant_concurrency);
        (endpoints, tenants)
    }

    /// The endpoint's and the tenant's permits and a rate-limit slot, or `None` if any is
    /// unavailable now.
    fn permits(
        &self,
        delivery: &queue::Claimed,
    ) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let config = &self.state.config.webhooks;
        let semaphore = |map: &Mutex<HashMap<Uuid, Arc<Semaphore>>>, id: Uuid, max: usize| {
            map.lock()
                .expect("semaphores")
                .entry(id)
                .or_insert_with(|| Arc::new(Semaphore::new(max)))
                .clone()
        };
        let endpoint = semaphore(
            &self.endpoints,
            delivery.endpoint_id,
            config.per_endpoint_concurrency,
        )
        .try_acquire_owned()
        .ok()?;
        let tenant = semaphore(
            &self.tenants,
            delivery.tenant_id,
            config.per_tenant_concurrency,
        )
        .try_acquire_owned()
        .ok()?;
        if config.per_endpoint_rate_per_sec > 0 {
            let now = Instant::now();
            let mut next = self.next_allowed.lock().expect("rate limits");
            let slot = next.entry(delivery.endpoint_id).or_insert(now);
            if *slot > now {
                return None;
            }
            *slot =
                now + Duration::from_secs_f64(1.0 / f64::from(config.per_endpoint_rate_per_sec));
        }
        Some((endpoint, tenant))
    }
}

/// Refreshes `webhook_queue_depth` and `webhook_oldest_pending_seconds`.
async fn report_gauges(state: AppState, cancel: CancellationToken) {
    loop {
        let depth = async {
            let mut conn = state.pool.acquire().await?;
            queue::depth(&mut conn).await
        };
        match depth.await {
            Ok((depth, oldest)) => {
                metrics::gauge!("webhook_queue_depth").set(depth as f64);
                metrics::gauge!("webhook_oldest_pending_seconds").set(oldest);
            }
            Err(err) => tracing::debug!(error = %err, "queue gauges not refreshed"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(GAUGE_INTERVAL) => {}
        }
    }
}
