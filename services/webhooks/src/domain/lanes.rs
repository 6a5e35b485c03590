//! The sender's scheduling decisions, as a pure state machine: no I/O, no clock (every event
//! carries `now`), no tasks. The [sender](super::sender) feeds it events and carries out what
//! it decides.
//!
//! **Lanes.** Each endpoint with work in this process has a *lane*: its queued jobs (FIFO), its
//! attempts running and its rate limit's next slot; each tenant has its jobs queued and its
//! attempts running. A queued job starts when its endpoint has fewer than
//! `per_endpoint_concurrency` attempts running, its tenant fewer than
//! `per_tenant_concurrency`, and the endpoint's rate limit (`per_endpoint_rate_per_sec`, one
//! start per `1 / rate` seconds) allows. A slow endpoint thus holds at most its own permits:
//! the other endpoints of its tenant take the tenant's remaining ones.
//!
//! **Leases.** A job may start only within the *start window* after its claim: its attempt
//! (timeout included) must end with a margin inside the lease. A job found past it is given
//! back instead (its lease released for any sender to claim).
//!
//! **Backlog.** Queued jobs count against the sender's backlog (`BACKLOG_BATCHES` ×
//! `batch_size`) only up to twice the endpoint's concurrency per lane: a slow endpoint's long
//! queue must not stop the sender from claiming work for everyone else (a lane is bounded by
//! the lane capacity instead: claims take at most that many per endpoint, and a handoff
//! beyond twice it is refused).
//!
//! **Claims.** A claim skips endpoints whose lane already queues their concurrency and tenants
//! queuing twice theirs; when one of those drains, the next claim is due at once ("hungry").
//! A claim that skipped some and came back short is *starved*: work may wait behind their
//! backlog.
//!
//! **Disabled endpoints.** Their queued jobs are failed without being sent; attempts already
//! running finish.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::config::DeliveryConfig;

/// Jobs queued in memory at most, in batches.
pub const BACKLOG_BATCHES: usize = 4;

/// The limits the lanes keep, from the delivery configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `batch_size`: what one claim takes at most.
    pub batch: usize,
    pub per_endpoint: usize,
    pub per_tenant: usize,
    /// Time between two starts on one endpoint; `None` without a rate limit.
    pub rate_interval: Option<Duration>,
    /// How long after its claim a job may still start.
    pub start_window: Duration,
}

impl Limits {
    pub fn from_config(config: &DeliveryConfig) -> Self {
        Self {
            batch: usize::try_from(config.batch_size).unwrap_or(0),
            per_endpoint: config.per_endpoint_concurrency,
            per_tenant: config.per_tenant_concurrency,
            rate_interval: (config.per_endpoint_rate_per_sec > 0).then(|| {
                Duration::from_secs_f64(1.0 / f64::from(config.per_endpoint_rate_per_sec))
            }),
            start_window: start_window(config.lease_secs, config.timeout_secs),
        }
    }

    /// Jobs queued in memory at most (as counted, see [`Self::counted_per_lane`]).
    pub fn backlog_capacity(&self) -> usize {
        self.batch.max(1) * BACKLOG_BATCHES
    }

    /// Jobs a claim or a handoff adds to one endpoint's lane at most: a batch (or twice its
    /// concurrency if more).
    pub fn lane_capacity(&self) -> usize {
        (2 * self.per_endpoint).max(self.batch.max(1))
    }

    /// Queued jobs of one lane that count against the backlog.
    fn counted_per_lane(&self) -> usize {
        2 * self.per_endpoint
    }
}

/// How long after its claim a job may still start: its attempt (timeout included) must end
/// with a margin (half the slack, at most 5 s) inside the lease.
pub fn start_window(lease_secs: u64, timeout_secs: u64) -> Duration {
    let slack = lease_secs.saturating_sub(timeout_secs);
    let margin = Duration::from_secs_f64((slack as f64 / 2.0).min(5.0));
    Duration::from_secs(slack).saturating_sub(margin)
}

/// What [`Lanes::start_ready`] decided. The sender keeps one and reuses it (drained after each
/// call), so that deciding allocates nothing once warm.
#[derive(Debug)]
pub struct Decisions<J> {
    /// Start these attempts now.
    pub start: Vec<J>,
    /// Give these leases back: the jobs waited past their start window.
    pub give_back: Vec<J>,
    /// When a rate-limited lane may start its next job (call again then).
    pub wake_at: Option<Instant>,
}

impl<J> Default for Decisions<J> {
    fn default() -> Self {
        Self {
            start: Vec::new(),
            give_back: Vec::new(),
            wake_at: None,
        }
    }
}

/// A claim to make, as the lanes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    /// Endpoints whose lane queues their concurrency already.
    pub busy_endpoints: Vec<Uuid>,
    /// Tenants queuing twice their concurrency.
    pub busy_tenants: Vec<Uuid>,
    /// Deliveries to claim at most: a batch, or the backlog's room if less.
    pub limit: usize,
    /// Deliveries of one endpoint to claim at most.
    pub per_endpoint: usize,
}

/// What a claim's size says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimVerdict {
    /// As many as could be taken: claim again at once.
    pub full: bool,
    /// Short, while busy endpoints or tenants were skipped (see the module docs).
    pub starved: bool,
}

struct Queued<J> {
    job: J,
    claimed_at: Instant,
}

struct Lane<J> {
    tenant: Uuid,
    queue: VecDeque<Queued<J>>,
    running: usize,
    /// The rate limit's next slot.
    next_slot: Option<Instant>,
}

#[derive(Default)]
struct TenantLoad {
    queued: usize,
    running: usize,
}

/// The scheduling state of one sender; `J` is what it queues (a delivery and its endpoint).
pub struct Lanes<J> {
    limits: Limits,
    lanes: HashMap<Uuid, Lane<J>>,
    tenants: HashMap<Uuid, TenantLoad>,
    /// Queued jobs as counted against the backlog.
    queued: usize,
    /// Endpoints and tenants the last claim skipped because they were full.
    skipped: HashSet<Uuid>,
}

impl<J> Lanes<J> {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            lanes: HashMap::new(),
            tenants: HashMap::new(),
            queued: 0,
            skipped: HashSet::new(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Queued jobs as counted against the backlog.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// How many more jobs may be queued.
    pub fn room(&self) -> usize {
        self.limits.backlog_capacity().saturating_sub(self.queued)
    }

    /// Whether a due claim may run: the room it waits for is a batch, or half the backlog if
    /// that is smaller.
    pub fn can_claim(&self) -> bool {
        self.room()
            >= self
                .limits
                .batch
                .max(1)
                .min(self.limits.backlog_capacity() / 2)
    }

    /// A claimed job arrived at `now`: queued at the end of its endpoint's lane.
    pub fn enqueue(&mut self, endpoint: Uuid, tenant: Uuid, job: J, now: Instant) {
        let counted = self.limits.counted_per_lane();
        let lane = self.lanes.entry(endpoint).or_insert_with(|| Lane {
            tenant,
            queue: VecDeque::new(),
            running: 0,
            next_slot: None,
        });
        lane.tenant = tenant;
        self.tenants.entry(tenant).or_default().queued += 1;
        self.queued += usize::from(lane.queue.len() < counted);
        lane.queue.push_back(Queued {
            job,
            claimed_at: now,
        });
    }

    /// A job the dispatcher leased and handed over arrived: queued like a claimed one, unless
    /// its lane already holds twice the lane capacity — then it comes back, to be given back.
    pub fn hand_over(&mut self, endpoint: Uuid, tenant: Uuid, job: J, now: Instant) -> Option<J> {
        let queued = self.lanes.get(&endpoint).map_or(0, |lane| lane.queue.len());
        if queued >= 2 * self.limits.lane_capacity() {
            return Some(job);
        }
        self.enqueue(endpoint, tenant, job, now);
        None
    }

    /// An attempt of `endpoint` (of `tenant`) ended; `true` if a lane or tenant the last claim
    /// skipped has room now (claim again).
    pub fn finished(&mut self, endpoint: Uuid, tenant: Uuid) -> bool {
        let mut hungry = false;
        if let Some(lane) = self.lanes.get_mut(&endpoint) {
            lane.running = lane.running.saturating_sub(1);
            hungry |= lane.queue.len() < self.limits.per_endpoint && self.skipped.remove(&endpoint);
            if lane.queue.is_empty() && lane.running == 0 {
                self.lanes.remove(&endpoint);
            }
        }
        if let Some(load) = self.tenants.get_mut(&tenant) {
            load.running = load.running.saturating_sub(1);
            hungry |= load.queued < self.limits.per_tenant && self.skipped.remove(&tenant);
            if load.queued == 0 && load.running == 0 {
                self.tenants.remove(&tenant);
            }
        }
        hungry
    }

    /// The endpoint was disabled: its queued jobs, oldest first, to be failed unsent.
    pub fn disable(&mut self, endpoint: Uuid) -> Vec<J> {
        let Some(lane) = self.lanes.get_mut(&endpoint) else {
            return Vec::new();
        };
        let jobs: Vec<J> = lane.queue.drain(..).map(|q| q.job).collect();
        let tenant = lane.tenant;
        if lane.running == 0 {
            self.lanes.remove(&endpoint);
        }
        self.queued -= jobs.len().min(self.limits.counted_per_lane());
        if let Some(load) = self.tenants.get_mut(&tenant) {
            load.queued = load.queued.saturating_sub(jobs.len());
        }
        jobs
    }

    /// The claim to make now: `batch` at most (less if the backlog has less room), skipping
    /// the busy endpoints and tenants.
    pub fn plan_claim(&self) -> ClaimPlan {
        let limits = &self.limits;
        ClaimPlan {
            busy_endpoints: self
                .lanes
                .iter()
                .filter(|(_, lane)| lane.queue.len() >= limits.per_endpoint)
                .map(|(id, _)| *id)
                .collect(),
            busy_tenants: self
                .tenants
                .iter()
                .filter(|(_, load)| load.queued >= 2 * limits.per_tenant)
                .map(|(id, _)| *id)
                .collect(),
            limit: limits.batch.min(self.room()),
            per_endpoint: limits.lane_capacity(),
        }
    }

    /// The claim `plan` brought `got` deliveries (looking at every endpoint if `full_scan`);
    /// remembers what it skipped.
    pub fn claimed(&mut self, plan: ClaimPlan, got: usize, full_scan: bool) -> ClaimVerdict {
        let skipped_some = !(plan.busy_endpoints.is_empty() && plan.busy_tenants.is_empty());
        let verdict = ClaimVerdict {
            // When the per-endpoint cap cut the batch short, there may be more of others.
            full: got >= plan.limit.min(plan.per_endpoint),
            starved: !full_scan && got < plan.limit && skipped_some,
        };
        self.skipped.clear();
        self.skipped.extend(plan.busy_endpoints);
        self.skipped.extend(plan.busy_tenants);
        verdict
    }

    /// Decides, as of `now`, which queued jobs start and which are given back (into
    /// `decisions`, which must come empty), and when to look again for rate-limited lanes.
    pub fn start_ready(&mut self, now: Instant, decisions: &mut Decisions<J>) {
        let limits = self.limits;
        let counted = limits.counted_per_lane();
        let mut wake_at: Option<Instant> = None;
        for lane in self.lanes.values_mut() {
            while !lane.queue.is_empty() {
                let tenant = self.tenants.entry(lane.tenant).or_default();
                if lane.running >= limits.per_endpoint || tenant.running >= limits.per_tenant {
                    break;
                }
                if let Some(slot) = lane.next_slot.filter(|slot| *slot > now) {
                    wake_at = Some(wake_at.map_or(slot, |w| w.min(slot)));
                    break;
                }
                let counts = lane.queue.len() <= counted;
                let Some(queued) = lane.queue.pop_front() else {
                    break;
                };
                self.queued -= usize::from(counts);
                tenant.queued = tenant.queued.saturating_sub(1);
                if now.saturating_duration_since(queued.claimed_at) > limits.start_window {
                    decisions.give_back.push(queued.job);
                    continue;
                }
                if let Some(interval) = limits.rate_interval {
                    lane.next_slot = Some(now + interval);
                }
                lane.running += 1;
                tenant.running += 1;
                decisions.start.push(queued.job);
            }
        }
        self.lanes
            .retain(|_, lane| !lane.queue.is_empty() || lane.running > 0);
        decisions.wake_at = wake_at;
    }
}

#[cfg(test)]
mod tests;
