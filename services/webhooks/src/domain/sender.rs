//! The sender: claims due deliveries under a lease, queues them per endpoint in memory and
//! starts each attempt as its own task; results go to the [recorder](super::record), which
//! writes them in batches.
//!
//! **Scheduling.** One task owns all scheduling state — per endpoint a *lane* (queued jobs,
//! attempts running, next rate-limit slot), per tenant the attempts running — so no locks are
//! taken on the hot path. An attempt starts when its endpoint has fewer than
//! `per_endpoint_concurrency` attempts running, its tenant fewer than
//! `per_tenant_concurrency`, and the endpoint's rate limit (`per_endpoint_rate_per_sec`)
//! allows. A slow or dead receiver therefore ties up its own lane and at most its own permits,
//! never the claim loop or other endpoints.
//!
//! **Claims.** A claim takes up to `batch_size` due deliveries (`FOR UPDATE SKIP LOCKED`, so
//! any number of senders share the queue), at most [`lane_capacity`] of one endpoint,
//! skipping endpoints whose lane already holds their concurrency and tenants holding twice
//! theirs, and never lets this process hold more than [`BACKLOG_BATCHES`] × `batch_size`
//! queued jobs that can start soon ([`counted_per_lane`]). The sender claims when woken (the
//! dispatcher in this process, or `NOTIFY` from another), every `poll_interval_ms` (retries
//! that became due), after a full batch, and when a lane it had to skip drains. Claims look at
//! a backlog's worth of endpoints (one index probe each, from a random point, however long
//! their queues), except the one of each poll, which looks at them all — and comes
//! [`STARVED_RESCAN`] after a short claim that skipped busy endpoints — so that with very many
//! endpoints nobody waits long either.
//!
//! **Leases.** A claim leases the delivery for `lease_secs` (> the attempt timeout) to this
//! sender's id; results are written only while the lease is still ours. A queued job starts
//! only while its attempt can finish (timeout included) well inside the lease; otherwise its
//! lease is given back and any sender claims it again. If the process dies, its leases expire
//! and other senders take the deliveries over — same `webhook-id` (the event id), so delivery
//! is at-least-once with receiver de-duplication. On shutdown the sender stops claiming,
//! waits up to [`SHUTDOWN_GRACE`] for attempts in flight, lets the recorder write their
//! results and releases every lease it still holds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::DeliveryConfig;
use crate::db::queue::{self, Claimed, Lease, Target};
use crate::domain::attempt::{self, Outgoing};
use crate::domain::record::{self, Finished};
use crate::state::AppState;

/// How long shutdown waits for attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the queue gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);
/// Jobs queued in memory at most, in batches.
pub const BACKLOG_BATCHES: usize = 4;
/// How soon a claim that came back short while skipping busy endpoints is followed by one
/// that looks at every endpoint.
const STARVED_RESCAN: Duration = Duration::from_millis(250);
/// How long the recorder gets at shutdown to write the last results.
const RECORDER_GRACE: Duration = Duration::from_secs(10);

/// The dispatcher's direct line to the sender of its engine: deliveries it creates are leased
/// to this sender in the creating transaction and handed over after commit, saving a claim
/// round trip — as many as the sender has room for; the rest wait in the table for any sender.
#[derive(Clone)]
pub struct Handoff {
    me: Uuid,
    lease_secs: f64,
    capacity: usize,
    lane_capacity: usize,
    /// The sender's queued jobs (kept current by the sender) and those handed over but not yet
    /// taken in.
    queued: Arc<AtomicUsize>,
    in_transit: Arc<AtomicUsize>,
    to_sender: mpsc::UnboundedSender<Vec<(Claimed, Arc<Target>)>>,
}

/// The sender's end of a [`Handoff`].
pub struct Inbox {
    queued: Arc<AtomicUsize>,
    in_transit: Arc<AtomicUsize>,
    from_dispatcher: mpsc::UnboundedReceiver<Vec<(Claimed, Arc<Target>)>>,
}

/// A handoff between the dispatcher and the sender `me` of one engine.
pub fn handoff(config: &DeliveryConfig, me: Uuid) -> (Handoff, Inbox) {
    let (to_sender, from_dispatcher) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let in_transit = Arc::new(AtomicUsize::new(0));
    (
        Handoff {
            me,
            lease_secs: config.lease_secs as f64,
            capacity: backlog_capacity(config),
            lane_capacity: lane_capacity(config),
            queued: queued.clone(),
            in_transit: in_transit.clone(),
            to_sender,
        },
        Inbox {
            queued,
            in_transit,
            from_dispatcher,
        },
    )
}

impl Handoff {
    /// The lease for the next fan-out, or `None` if the sender has no room.
    pub fn lease(&self) -> Option<Lease> {
        let taken = self.queued.load(Ordering::Relaxed) + self.in_transit.load(Ordering::Relaxed);
        let room = self.capacity.saturating_sub(taken);
        (room > 0).then_some(Lease {
            me: self.me,
            secs: self.lease_secs,
            max: room,
            max_per_endpoint: self.lane_capacity,
        })
    }

    /// Hands committed, leased deliveries to the sender.
    pub fn send(&self, leased: Vec<(Claimed, Arc<Target>)>) {
        if leased.is_empty() {
            return;
        }
        let n = leased.len();
        self.in_transit.fetch_add(n, Ordering::Relaxed);
        if self.to_sender.send(leased).is_err() {
            // The sender is gone (shutdown): the leases expire and any sender claims them.
            self.in_transit.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

/// Jobs a sender queues in memory at most.
fn backlog_capacity(config: &DeliveryConfig) -> usize {
    config.batch_size.max(1) as usize * BACKLOG_BATCHES
}

/// Jobs a claim or a handoff adds to one endpoint's lane at most: a batch (or twice its
/// concurrency if more). Claims skip endpoints with their concurrency queued; handed-over jobs
/// beyond twice this are given back at once.
fn lane_capacity(config: &DeliveryConfig) -> usize {
    (2 * config.per_endpoint_concurrency).max(config.batch_size.max(1) as usize)
}

/// Queued jobs of one lane that count against the backlog: up to twice the endpoint's
/// concurrency. A fast endpoint drains a long queue in milliseconds; a slow or dead one must
/// not fill the backlog and stop this sender from taking work for everyone else, so what it
/// has queued beyond this does not count (it is bounded by [`lane_capacity`] instead).
fn counted_per_lane(config: &DeliveryConfig) -> usize {
    2 * config.per_endpoint_concurrency
}

/// What every attempt task shares.
struct Ctx {
    state: AppState,
    client: reqwest::Client,
    results: mpsc::UnboundedSender<Finished>,
}

/// A claimed delivery waiting in its endpoint's lane.
struct Job {
    delivery: Claimed,
    target: Arc<Target>,
    claimed_at: Instant,
}

#[derive(Default)]
struct Lane {
    tenant: Uuid,
    queue: VecDeque<Job>,
    running: usize,
    /// The rate limit's next slot.
    next_slot: Option<Instant>,
}

#[derive(Default)]
struct TenantLoad {
    queued: usize,
    running: usize,
}

/// The scheduling state, owned by the sender's task.
struct Scheduler {
    ctx: Arc<Ctx>,
    me: Uuid,
    config: DeliveryConfig,
    lanes: HashMap<Uuid, Lane>,
    tenants: HashMap<Uuid, TenantLoad>,
    /// Queued jobs as counted against the backlog ([`counted_per_lane`]).
    queued: usize,
    tasks: JoinSet<()>,
    /// The (endpoint, tenant) of each attempt task.
    running: HashMap<tokio::task::Id, (Uuid, Uuid)>,
    /// Endpoints and tenants the last claim skipped because they were full.
    skipped: HashSet<Uuid>,
    /// How long after its claim a job may still start.
    start_window: Duration,
    inbox: Inbox,
    /// The next claim looks at every endpoint with due deliveries (see [`queue::claim`]).
    full_scan_due: bool,
    /// The last claim skipped busy endpoints or tenants and came back short.
    starved: bool,
}

/// Runs until `cancel` fires; `wake` is notified by the dispatcher in this process when it
/// created deliveries it did not hand over through `inbox`.
pub async fn run(
    state: AppState,
    me: Uuid,
    wake: Arc<Notify>,
    inbox: Inbox,
    cancel: CancellationToken,
) {
    let config = state.config.webhooks.clone();
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
    let (results, received) = mpsc::unbounded_channel();
    let (disabled, mut disabled_endpoints) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record::run(
        state.pool.clone(),
        me,
        config.clone(),
        received,
        disabled,
    ));
    let listener = tokio::spawn(temponest_db::listen(
        state.pool.clone(),
        queue::DELIVERIES_CHANNEL,
        wake.clone(),
        cancel.clone(),
    ));
    let gauges = tokio::spawn(report_gauges(state.clone(), cancel.clone()));
    let mut scheduler = Scheduler {
        ctx: Arc::new(Ctx {
            state: state.clone(),
            client,
            results,
        }),
        me,
        start_window: start_window(&config),
        config,
        lanes: HashMap::new(),
        tenants: HashMap::new(),
        queued: 0,
        tasks: JoinSet::new(),
        running: HashMap::new(),
        skipped: HashSet::new(),
        inbox,
        full_scan_due: true,
        starved: false,
    };
    scheduler.run(&wake, &mut disabled_endpoints, &cancel).await;
    listener.abort();
    gauges.abort();

    let Scheduler { ctx, mut tasks, .. } = scheduler;
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
    // The last sender of the results channel: the recorder writes what is left and returns.
    drop(ctx);
    if tokio::time::timeout(RECORDER_GRACE, recorder)
        .await
        .is_err()
    {
        tracing::warn!("the webhook recorder did not finish at shutdown");
    }
    let released = async {
        let mut conn = state.pool.acquire().await?;
        queue::release_all(&mut conn, &[me]).await
    };
    match released.await {
        Ok(n) if n > 0 => tracing::info!(released = n, "released webhook delivery leases"),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not release leases at shutdown"),
    }
}

/// How long after its claim a job may still start: its attempt (timeout included) must end
/// with a margin inside the lease.
fn start_window(config: &DeliveryConfig) -> Duration {
    let slack = config.lease_secs.saturating_sub(config.timeout_secs);
    let margin = Duration::from_secs_f64((slack as f64 / 2.0).min(5.0));
    Duration::from_secs(slack).saturating_sub(margin)
}

impl Scheduler {
    async fn run(
        &mut self,
        wake: &Notify,
        disabled: &mut mpsc::UnboundedReceiver<Uuid>,
        cancel: &CancellationToken,
    ) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        let mut errors = 0u32;
        let mut claim_due = true;
        let mut next_poll = Instant::now();
        while !cancel.is_cancelled() {
            while let Some(done) = self.tasks.try_join_next_with_id() {
                claim_due |= self.finished(done);
            }
            // A due claim waits while the backlog is nearly full (it stays due: work may be
            // waiting in the table) and runs as soon as attempts starting make room.
            if claim_due && self.room() >= self.claim_threshold() {
                claim_due = false;
                match self.claim().await {
                    Ok(full) => {
                        errors = 0;
                        claim_due = full;
                    }
                    Err(err) => {
                        errors += 1;
                        tracing::warn!(error = %err, "webhook claim round failed");
                    }
                }
                next_poll = Instant::now() + poll * 2u32.pow(errors.min(5));
                if self.starved {
                    // Work may be waiting behind busy endpoints' backlog: look past it soon.
                    next_poll = next_poll.min(Instant::now() + STARVED_RESCAN);
                }
            }
            let next_slot = self.start_ready();
            self.inbox.queued.store(self.queued, Ordering::Relaxed);
            if claim_due && self.room() >= self.claim_threshold() {
                continue;
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                Some(endpoint_id) = disabled.recv() => self.drop_lane(endpoint_id),
                Some(leased) = self.inbox.from_dispatcher.recv() => self.handed_over(leased),
                () = wake.notified() => claim_due = true,
                () = tokio::time::sleep_until(next_poll) => {
                    claim_due = true;
                    self.full_scan_due = true;
                }
                () = sleep_until_some(next_slot) => {}
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    claim_due |= self.finished(done);
                }
            }
        }
    }

    /// Queues what the dispatcher handed over; beyond twice [`lane_capacity`] of one endpoint,
    /// leases are given back at once.
    fn handed_over(&mut self, leased: Vec<(Claimed, Arc<Target>)>) {
        self.inbox
            .in_transit
            .fetch_sub(leased.len(), Ordering::Relaxed);
        let claimed_at = Instant::now();
        let limit = 2 * lane_capacity(&self.config);
        for (delivery, target) in leased {
            let queued = self
                .lanes
                .get(&delivery.endpoint_id)
                .map_or(0, |lane| lane.queue.len());
            if queued >= limit {
                self.record(Finished::Release {
                    delivery_id: delivery.id,
                });
            } else {
                self.enqueue(delivery, target, claimed_at);
            }
        }
    }

    /// How many more jobs may be queued in memory (see [`counted_per_lane`]).
    fn room(&self) -> usize {
        backlog_capacity(&self.config).saturating_sub(self.queued)
    }

    /// The room a claim waits for: a batch, or half the backlog if that is smaller.
    fn claim_threshold(&self) -> usize {
        (self.config.batch_size.max(1) as usize).min(backlog_capacity(&self.config) / 2)
    }

    /// Books an attempt's end; `true` if a lane or tenant the last claim skipped has room now.
    fn finished(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) -> bool {
        let id = match done {
            Ok((id, ())) => id,
            Err(err) => {
                tracing::error!(error = %err, "a webhook attempt task failed");
                err.id()
            }
        };
        let Some((endpoint_id, tenant_id)) = self.running.remove(&id) else {
            return false;
        };
        let mut hungry = false;
        if let Some(lane) = self.lanes.get_mut(&endpoint_id) {
            lane.running = lane.running.saturating_sub(1);
            hungry |= lane.queue.len() < self.config.per_endpoint_concurrency
                && self.skipped.remove(&endpoint_id);
            if lane.queue.is_empty() && lane.running == 0 {
                self.lanes.remove(&endpoint_id);
            }
        }
        if let Some(tenant) = self.tenants.get_mut(&tenant_id) {
            tenant.running = tenant.running.saturating_sub(1);
            hungry |= tenant.queued < self.config.per_tenant_concurrency
                && self.skipped.remove(&tenant_id);
            if tenant.queued == 0 && tenant.running == 0 {
                self.tenants.remove(&tenant_id);
            }
        }
        hungry
    }

    /// Claims one batch into the lanes; `true` if the batch was full.
    async fn claim(&mut self) -> sqlx::Result<bool> {
        let config = &self.config;
        let busy_endpoints: Vec<Uuid> = self
            .lanes
            .iter()
            .filter(|(_, lane)| lane.queue.len() >= config.per_endpoint_concurrency)
            .map(|(id, _)| *id)
            .collect();
        let busy_tenants: Vec<Uuid> = self
            .tenants
            .iter()
            .filter(|(_, t)| t.queued >= 2 * config.per_tenant_concurrency)
            .map(|(id, _)| *id)
            .collect();
        let limit = (config.batch_size as usize).min(self.room());
        let full_scan = std::mem::take(&mut self.full_scan_due);
        let scan = if full_scan {
            i64::MAX
        } else {
            backlog_capacity(config) as i64
        };
        let mut conn = self.ctx.state.pool.acquire().await?;
        let claimed = queue::claim(
            &mut conn,
            &queue::ClaimRequest {
                me: self.me,
                lease_secs: config.lease_secs as f64,
                limit: limit as i64,
                per_endpoint: lane_capacity(config) as i64,
                busy_endpoints: &busy_endpoints,
                busy_tenants: &busy_tenants,
                scan,
            },
        )
        .await?;
        self.starved = !full_scan
            && claimed.len() < limit
            && !(busy_endpoints.is_empty() && busy_tenants.is_empty());
        self.skipped = busy_endpoints.into_iter().chain(busy_tenants).collect();
        // Full: as many as could be taken (when the per-endpoint cap cut the batch short,
        // there may be more of other endpoints).
        let full = claimed.len() >= limit.min(lane_capacity(config));
        self.take_in(&mut conn, claimed).await?;
        Ok(full)
    }

    /// Queues leased deliveries in their lanes (deliveries of disabled or deleted endpoints
    /// are failed). If their endpoints cannot be loaded, the leases are given back.
    async fn take_in(
        &mut self,
        conn: &mut sqlx::PgConnection,
        leased: Vec<Claimed>,
    ) -> sqlx::Result<()> {
        if leased.is_empty() {
            return Ok(());
        }
        let claimed_at = Instant::now();
        let mut ids: Vec<Uuid> = leased.iter().map(|d| d.endpoint_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let targets: HashMap<Uuid, Arc<Target>> = match queue::targets(conn, &ids).await {
            Ok(targets) => targets.into_iter().map(|t| (t.id, Arc::new(t))).collect(),
            Err(err) => {
                for delivery in leased {
                    self.record(Finished::Release {
                        delivery_id: delivery.id,
                    });
                }
                return Err(err);
            }
        };
        for delivery in leased {
            match targets.get(&delivery.endpoint_id) {
                Some(target) if target.usable => {
                    self.enqueue(delivery, target.clone(), claimed_at);
                }
                Some(_) => self.record(Finished::Unusable {
                    delivery_id: delivery.id,
                }),
                None => self.record(Finished::Release {
                    delivery_id: delivery.id,
                }),
            }
        }
        Ok(())
    }

    fn enqueue(&mut self, delivery: Claimed, target: Arc<Target>, claimed_at: Instant) {
        let counted = counted_per_lane(&self.config);
        let lane = self.lanes.entry(delivery.endpoint_id).or_default();
        lane.tenant = delivery.tenant_id;
        self.tenants.entry(delivery.tenant_id).or_default().queued += 1;
        self.queued += usize::from(lane.queue.len() < counted);
        lane.queue.push_back(Job {
            delivery,
            target,
            claimed_at,
        });
    }

    /// The endpoint was disabled: its queued jobs are failed without being sent.
    fn drop_lane(&mut self, endpoint_id: Uuid) {
        let Some(lane) = self.lanes.get_mut(&endpoint_id) else {
            return;
        };
        let jobs: Vec<Job> = lane.queue.drain(..).collect();
        if lane.running == 0 {
            self.lanes.remove(&endpoint_id);
        }
        self.queued -= jobs.len().min(counted_per_lane(&self.config));
        for job in jobs {
            if let Some(tenant) = self.tenants.get_mut(&job.delivery.tenant_id) {
                tenant.queued = tenant.queued.saturating_sub(1);
            }
            self.record(Finished::Unusable {
                delivery_id: job.delivery.id,
            });
        }
    }

    /// Starts every queued job that may start now; returns when a rate-limited lane may start
    /// its next one.
    fn start_ready(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let interval = (self.config.per_endpoint_rate_per_sec > 0).then(|| {
            Duration::from_secs_f64(1.0 / f64::from(self.config.per_endpoint_rate_per_sec))
        });
        let mut next_slot: Option<Instant> = None;
        let mut released = Vec::new();
        let counted = counted_per_lane(&self.config);
        for lane in self.lanes.values_mut() {
            while !lane.queue.is_empty() {
                let tenant = self.tenants.entry(lane.tenant).or_default();
                if lane.running >= self.config.per_endpoint_concurrency
                    || tenant.running >= self.config.per_tenant_concurrency
                {
                    break;
                }
                if let Some(slot) = lane.next_slot.filter(|slot| *slot > now) {
                    next_slot = Some(next_slot.map_or(slot, |n| n.min(slot)));
                    break;
                }
                let counts = lane.queue.len() <= counted;
                let Some(job) = lane.queue.pop_front() else {
                    break;
                };
                self.queued -= usize::from(counts);
                tenant.queued = tenant.queued.saturating_sub(1);
                if now.duration_since(job.claimed_at) > self.start_window {
                    released.push(job.delivery.id);
                    continue;
                }
                if let Some(interval) = interval {
                    lane.next_slot = Some(now + interval);
                }
                lane.running += 1;
                tenant.running += 1;
                let key = (job.delivery.endpoint_id, job.delivery.tenant_id);
                let task = self.tasks.spawn(attempt(self.ctx.clone(), job));
                self.running.insert(task.id(), key);
            }
        }
        self.lanes
            .retain(|_, lane| !lane.queue.is_empty() || lane.running > 0);
        for delivery_id in released {
            self.record(Finished::Release { delivery_id });
        }
        next_slot
    }

    fn record(&self, finished: Finished) {
        // Only fails once the recorder is gone (shutdown); the lease then expires.
        let _ = self.ctx.results.send(finished);
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends one attempt and hands the result to the recorder.
async fn attempt(ctx: Arc<Ctx>, job: Job) {
    let Job {
        delivery, target, ..
    } = job;
    let config = &ctx.state.config.webhooks;
    let secrets: Vec<Vec<u8>> = target
        .secrets
        .iter()
        .zip(&target.sealed)
        .filter_map(|(stored, sealed)| {
            ctx.state
                .sealer
                .reveal(target.id.as_bytes(), stored, *sealed)
        })
        .collect();
    let out = Outgoing {
        url: &target.url,
        webhook_id: delivery.event_id.to_string(),
        event_type: &delivery.event_type,
        event_created_at: delivery.event_created_at,
        payload: &delivery.payload,
        static_headers: &target.headers,
        secrets: &secrets,
    };
    let result = if secrets.is_empty() {
        // Never sent unsigned: retried with backoff until the key is put right.
        attempt::not_sent(
            "signing",
            "no signing secret could be opened (is TEMPONEST_WEBHOOKS__SECRET_KEY the key they \
             were sealed with?)",
        )
    } else {
        attempt::send(
            &ctx.client,
            &ctx.state.policy,
            &out,
            config.max_response_body_bytes,
        )
        .await
    };
    metrics::histogram!("webhook_attempt_duration_seconds").record(result.duration.as_secs_f64());
    let _ = ctx.results.send(Finished::Attempt {
        delivery_id: delivery.id,
        endpoint_id: target.id,
        max_retries: target.max_retries,
        retry_delay_seconds: target.retry_delay_seconds,
        result,
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_start_only_while_their_attempt_fits_in_the_lease() {
        let mut config = DeliveryConfig::default();
        // 60 s lease, 10 s timeout: 50 s of slack, 5 s margin.
        assert_eq!(start_window(&config), Duration::from_secs(45));
        config.lease_secs = 5;
        config.timeout_secs = 2;
        assert_eq!(start_window(&config), Duration::from_millis(1500));
        config.lease_secs = 3;
        assert_eq!(start_window(&config), Duration::from_millis(500));
    }
}
