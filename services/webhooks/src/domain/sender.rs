//! The sender: claims due deliveries under a lease, queues them per endpoint in memory and
//! starts each attempt as its own task; results go to the [recorder](super::record), which
//! writes them in batches.
//!
//! **Scheduling** is decided by [`Lanes`] (per endpoint a lane of queued jobs, per-endpoint
//! and per-tenant concurrency, rate-limit slots, start windows inside the lease; see
//! [`super::lanes`]), a pure state machine this task owns — so no locks are taken on the hot
//! path. This module is its I/O shell: it feeds it claims, handoffs, finished attempts,
//! disabled endpoints and the time, spawns the attempts it starts and tells the recorder about
//! the leases it gives back and the jobs it fails. A slow or dead receiver therefore ties up
//! its own lane and at most its own permits, never the claim loop or other endpoints.
//!
//! **Claims.** A claim takes up to `batch_size` due deliveries (`FOR UPDATE SKIP LOCKED`, so
//! any number of senders share the queue), at most [`Limits::lane_capacity`] of one endpoint,
//! skipping endpoints whose lane already holds their concurrency and tenants holding twice
//! theirs ([`Lanes::plan_claim`]), and never lets this process hold more than
//! [`BACKLOG_BATCHES`](super::lanes::BACKLOG_BATCHES) × `batch_size` queued jobs that can start
//! soon. The sender claims when woken (the
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::DeliveryConfig;
use crate::db::queue::{self, Claimed, FanOut, Lease, Target};
use crate::domain::attempt::{self, Outgoing};
use crate::domain::lanes::{Decisions, Lanes, Limits};
use crate::domain::record::{self, Finished};
use crate::models::delivery_state::ErrorClass;
use crate::state::AppState;

/// How long shutdown waits for attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the queue gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);
/// How soon a claim that came back short while skipping busy endpoints is followed by one
/// that looks at every endpoint.
const STARVED_RESCAN: Duration = Duration::from_millis(250);
/// How long the recorder gets at shutdown to write the last results.
const RECORDER_GRACE: Duration = Duration::from_secs(10);

/// The direct line to the sender of an engine, from its dispatcher and from `POST /events` in
/// the same process ([`LocalEngine`]): deliveries they create are leased to this sender in the
/// creating transaction and handed over after commit, saving a claim round trip — as many as
/// the sender has room for; the rest wait in the table for any sender.
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
    /// Wakes the sender to claim what was created but not handed over.
    wake: Arc<Notify>,
}

/// The sender's end of a [`Handoff`].
pub struct Inbox {
    queued: Arc<AtomicUsize>,
    in_transit: Arc<AtomicUsize>,
    from_dispatcher: mpsc::UnboundedReceiver<Vec<(Claimed, Arc<Target>)>>,
}

/// A handoff to the sender `me` of one engine, woken through `wake`.
pub fn handoff(config: &DeliveryConfig, me: Uuid, wake: Arc<Notify>) -> (Handoff, Inbox) {
    let (to_sender, from_dispatcher) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let in_transit = Arc::new(AtomicUsize::new(0));
    let limits = Limits::from_config(config);
    (
        Handoff {
            me,
            lease_secs: config.lease_secs as f64,
            capacity: limits.backlog_capacity(),
            lane_capacity: limits.lane_capacity(),
            queued: queued.clone(),
            in_transit: in_transit.clone(),
            to_sender,
            wake,
        },
        Inbox {
            queued,
            in_transit,
            from_dispatcher,
        },
    )
}

impl Handoff {
    /// The lease for the next fan-out, or `None` if the sender has no room (or has stopped).
    pub fn lease(&self) -> Option<Lease> {
        if self.to_sender.is_closed() {
            return None;
        }
        let taken = self.queued.load(Ordering::Relaxed) + self.in_transit.load(Ordering::Relaxed);
        let room = self.capacity.saturating_sub(taken);
        (room > 0).then_some(Lease {
            me: self.me,
            secs: self.lease_secs,
            max: room,
            max_per_endpoint: self.lane_capacity,
        })
    }

    /// Hands a committed fan-out's leased deliveries to the sender, and wakes it to claim the
    /// others if some were left in the table.
    pub fn deliver(&self, fan_out: FanOut) {
        if fan_out.created > fan_out.leased.len() {
            self.wake.notify_one();
        }
        self.send(fan_out.leased);
    }

    fn send(&self, leased: Vec<(Claimed, Arc<Target>)>) {
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

/// This process's delivery engine as request handlers see it: the [`Handoff`] to its sender
/// while one runs (`webhooks.run_engine`), so that `POST /events` leases the deliveries it
/// creates to it, as the dispatcher does.
#[derive(Clone, Default)]
pub struct LocalEngine(Arc<RwLock<Option<Handoff>>>);

impl LocalEngine {
    /// Records the handoff of the engine that just started (replacing a stopped one's).
    pub fn started(&self, handoff: Handoff) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(handoff);
    }

    /// The engine's handoff, if one was started in this process.
    pub fn handoff(&self) -> Option<Handoff> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
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
}

/// The sender's task: the lanes and the I/O around them.
struct Sender {
    ctx: Arc<Ctx>,
    me: Uuid,
    config: DeliveryConfig,
    lanes: Lanes<Job>,
    /// Reused by every [`Lanes::start_ready`].
    decisions: Decisions<Job>,
    tasks: JoinSet<()>,
    /// The (endpoint, tenant) of each attempt task.
    running: HashMap<tokio::task::Id, (Uuid, Uuid)>,
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
    let mut sender = Sender {
        ctx: Arc::new(Ctx {
            state: state.clone(),
            client,
            results,
        }),
        me,
        lanes: Lanes::new(Limits::from_config(&config)),
        decisions: Decisions::default(),
        config,
        tasks: JoinSet::new(),
        running: HashMap::new(),
        inbox,
        full_scan_due: true,
        starved: false,
    };
    sender.run(&wake, &mut disabled_endpoints, &cancel).await;
    listener.abort();
    gauges.abort();

    let Sender { ctx, mut tasks, .. } = sender;
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

impl Sender {
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
            if claim_due && self.lanes.can_claim() {
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
            self.inbox
                .queued
                .store(self.lanes.queued(), Ordering::Relaxed);
            if claim_due && self.lanes.can_claim() {
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

    /// Queues what the dispatcher handed over; what a full lane refuses is given back at once.
    fn handed_over(&mut self, leased: Vec<(Claimed, Arc<Target>)>) {
        self.inbox
            .in_transit
            .fetch_sub(leased.len(), Ordering::Relaxed);
        let now = Instant::now().into_std();
        for (delivery, target) in leased {
            let (endpoint, tenant) = (delivery.endpoint_id, delivery.tenant_id);
            let job = Job { delivery, target };
            if let Some(refused) = self.lanes.hand_over(endpoint, tenant, job, now) {
                self.record(Finished::Release {
                    delivery_id: refused.delivery.id,
                });
            }
        }
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
        match self.running.remove(&id) {
            Some((endpoint, tenant)) => self.lanes.finished(endpoint, tenant),
            None => false,
        }
    }

    /// Claims one batch into the lanes; `true` if the batch was full.
    async fn claim(&mut self) -> sqlx::Result<bool> {
        let plan = self.lanes.plan_claim();
        let full_scan = std::mem::take(&mut self.full_scan_due);
        let scan = if full_scan {
            i64::MAX
        } else {
            self.lanes.limits().backlog_capacity() as i64
        };
        let mut conn = self.ctx.state.pool.acquire().await?;
        let claimed = queue::claim(
            &mut conn,
            &queue::ClaimRequest {
                me: self.me,
                lease_secs: self.config.lease_secs as f64,
                limit: plan.limit as i64,
                per_endpoint: plan.per_endpoint as i64,
                busy_endpoints: &plan.busy_endpoints,
                busy_tenants: &plan.busy_tenants,
                scan,
            },
        )
        .await?;
        let verdict = self.lanes.claimed(plan, claimed.len(), full_scan);
        self.starved = verdict.starved;
        self.take_in(&mut conn, claimed).await?;
        Ok(verdict.full)
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
        let claimed_at = Instant::now().into_std();
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
                    let (endpoint, tenant) = (delivery.endpoint_id, delivery.tenant_id);
                    let target = target.clone();
                    let job = Job { delivery, target };
                    self.lanes.enqueue(endpoint, tenant, job, claimed_at);
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

    /// The endpoint was disabled: its queued jobs are failed without being sent.
    fn drop_lane(&mut self, endpoint_id: Uuid) {
        for job in self.lanes.disable(endpoint_id) {
            self.record(Finished::Unusable {
                delivery_id: job.delivery.id,
            });
        }
    }

    /// Starts every queued job the lanes let start now and gives back those too late to;
    /// returns when a rate-limited lane may start its next one.
    fn start_ready(&mut self) -> Option<Instant> {
        self.lanes
            .start_ready(Instant::now().into_std(), &mut self.decisions);
        for job in self.decisions.start.drain(..) {
            let key = (job.delivery.endpoint_id, job.delivery.tenant_id);
            let task = self.tasks.spawn(attempt(self.ctx.clone(), job));
            self.running.insert(task.id(), key);
        }
        for job in self.decisions.give_back.drain(..) {
            // Only fails once the recorder is gone (shutdown); the lease then expires.
            let _ = self.ctx.results.send(Finished::Release {
                delivery_id: job.delivery.id,
            });
        }
        self.decisions.wake_at.map(Instant::from_std)
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
    let Job { delivery, target } = job;
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
            ErrorClass::Signing,
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
