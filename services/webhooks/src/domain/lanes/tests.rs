//! The lanes' rules, event by event, with time passed in.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn limits(per_endpoint: usize, per_tenant: usize) -> Limits {
    Limits {
        batch: 10,
        per_endpoint,
        per_tenant,
        rate_interval: None,
        start_window: Duration::from_secs(45),
    }
}

/// Lanes of numbered jobs, and the ids of a tenant with two endpoints and of another tenant.
struct World {
    lanes: Lanes<u32>,
    t0: Instant,
    tenant: Uuid,
    a: Uuid,
    b: Uuid,
    other_tenant: Uuid,
    c: Uuid,
}

impl World {
    fn new(limits: Limits) -> Self {
        Self {
            lanes: Lanes::new(limits),
            t0: Instant::now(),
            tenant: Uuid::new_v4(),
            a: Uuid::new_v4(),
            b: Uuid::new_v4(),
            other_tenant: Uuid::new_v4(),
            c: Uuid::new_v4(),
        }
    }

    /// Queues jobs `jobs` for `endpoint` of `tenant`, claimed at `t0 + at`.
    fn queue(&mut self, endpoint: Uuid, tenant: Uuid, jobs: std::ops::Range<u32>, at: Duration) {
        for job in jobs {
            self.lanes.enqueue(endpoint, tenant, job, self.t0 + at);
        }
    }

    /// What starting at `t0 + at` decides.
    fn start(&mut self, at: Duration) -> Decisions<u32> {
        let mut decisions = Decisions::default();
        self.lanes.start_ready(self.t0 + at, &mut decisions);
        decisions
    }

    fn started(&mut self, at: Duration) -> Vec<u32> {
        let mut started = self.start(at).start;
        started.sort_unstable();
        started
    }
}

#[test]
fn an_endpoint_runs_at_most_its_concurrency_and_starts_the_next_job_when_one_ends() {
    let mut w = World::new(limits(2, 10));
    w.queue(w.a, w.tenant, 0..5, Duration::ZERO);
    assert_eq!(w.started(Duration::ZERO), [0, 1]);
    assert_eq!(w.started(MS), Vec::<u32>::new(), "both permits are held");
    w.lanes.finished(w.a, w.tenant);
    assert_eq!(w.started(2 * MS), [2]);
}

#[test]
fn jobs_of_one_endpoint_start_in_the_order_they_arrived() {
    let mut w = World::new(limits(1, 10));
    w.queue(w.a, w.tenant, 0..4, Duration::ZERO);
    let mut order = Vec::new();
    for step in 0..4 {
        order.extend(w.started(step * MS));
        w.lanes.finished(w.a, w.tenant);
    }
    assert_eq!(order, [0, 1, 2, 3]);
}

#[test]
fn a_tenant_runs_at_most_its_concurrency_over_all_its_endpoints_and_others_are_unaffected() {
    let mut w = World::new(limits(10, 3));
    w.queue(w.a, w.tenant, 0..5, Duration::ZERO);
    w.queue(w.b, w.tenant, 10..15, Duration::ZERO);
    w.queue(w.c, w.other_tenant, 20..25, Duration::ZERO);
    let started = w.started(Duration::ZERO);
    let ours = started.iter().filter(|j| **j < 20).count();
    let theirs = started.iter().filter(|j| **j >= 20).count();
    assert_eq!((ours, theirs), (3, 3));
    w.lanes.finished(w.a, w.tenant);
    assert_eq!(w.started(MS).len(), 1, "one permit of the tenant came free");
}

#[test]
fn a_hanging_endpoint_holds_only_its_own_permits_so_its_tenants_other_endpoints_proceed() {
    let mut w = World::new(limits(2, 4));
    // A's backlog arrived first; its attempts never end.
    w.queue(w.a, w.tenant, 0..10, Duration::ZERO);
    w.queue(w.b, w.tenant, 10..20, MS);
    assert_eq!(w.started(MS), [0, 1, 10, 11]);
    for step in 2..6 {
        w.lanes.finished(w.b, w.tenant);
        assert_eq!(w.started(step * MS), [10 + step], "B goes on");
    }
}

#[test]
fn a_rate_limited_endpoint_starts_one_job_per_slot_and_says_when_the_next_is() {
    let mut w = World::new(Limits {
        rate_interval: Some(100 * MS),
        ..limits(10, 10)
    });
    w.queue(w.a, w.tenant, 0..3, Duration::ZERO);
    let first = w.start(Duration::ZERO);
    assert_eq!(first.start, [0]);
    assert_eq!(first.wake_at, Some(w.t0 + 100 * MS));
    let early = w.start(50 * MS);
    assert!(early.start.is_empty());
    assert_eq!(early.wake_at, Some(w.t0 + 100 * MS));
    let on_time = w.start(100 * MS);
    assert_eq!(on_time.start, [1]);
    assert_eq!(on_time.wake_at, Some(w.t0 + 200 * MS));
}

#[test]
fn a_job_that_waited_past_its_start_window_is_given_back_not_started() {
    let mut w = World::new(Limits {
        start_window: Duration::from_secs(1),
        ..limits(1, 10)
    });
    w.queue(w.a, w.tenant, 0..3, Duration::ZERO);
    assert_eq!(w.started(Duration::ZERO), [0]);
    w.lanes.finished(w.a, w.tenant);
    assert_eq!(
        w.started(Duration::from_secs(1)),
        [1],
        "at the window's end"
    );
    w.lanes.finished(w.a, w.tenant);
    let late = w.start(Duration::from_secs(1) + MS);
    assert!(late.start.is_empty());
    assert_eq!(late.give_back, [2]);
    assert_eq!(w.lanes.queued(), 0);
}

#[test]
fn a_disabled_endpoints_queued_jobs_are_failed_and_its_running_attempts_finish() {
    let mut w = World::new(limits(2, 10));
    w.queue(w.a, w.tenant, 0..5, Duration::ZERO);
    w.queue(w.b, w.tenant, 10..12, Duration::ZERO);
    assert_eq!(w.started(Duration::ZERO), [0, 1, 10, 11]);
    assert_eq!(w.lanes.disable(w.a), [2, 3, 4], "oldest first");
    assert_eq!(w.lanes.queued(), 0);
    assert!(w.lanes.disable(w.a).is_empty(), "nothing left");
    w.lanes.finished(w.a, w.tenant);
    w.lanes.finished(w.a, w.tenant);
    assert!(w.started(MS).is_empty());
    assert!(w.lanes.disable(w.c).is_empty(), "an unknown endpoint");
}

#[test]
fn a_long_lane_counts_against_the_backlog_only_up_to_twice_its_concurrency() {
    let mut w = World::new(limits(2, 10));
    assert_eq!(w.lanes.room(), 40);
    w.queue(w.a, w.tenant, 0..30, Duration::ZERO);
    assert_eq!(w.lanes.queued(), 4);
    assert_eq!(w.lanes.room(), 36);
    assert!(w.lanes.can_claim());
    w.started(Duration::ZERO);
    assert_eq!(
        w.lanes.queued(),
        4,
        "the lane still queues more than it counts"
    );
    w.queue(w.b, w.tenant, 100..131, Duration::ZERO);
    w.queue(w.c, w.other_tenant, 200..231, Duration::ZERO);
    w.queue(Uuid::new_v4(), w.other_tenant, 300..331, Duration::ZERO);
    w.queue(Uuid::new_v4(), w.other_tenant, 400..431, Duration::ZERO);
    w.queue(Uuid::new_v4(), w.other_tenant, 500..531, Duration::ZERO);
    w.queue(Uuid::new_v4(), w.other_tenant, 600..631, Duration::ZERO);
    w.queue(Uuid::new_v4(), w.other_tenant, 700..731, Duration::ZERO);
    assert_eq!(w.lanes.queued(), 32);
    assert!(!w.lanes.can_claim(), "8 of room, a batch is 10");
}

#[test]
fn a_handoff_beyond_twice_the_lane_capacity_comes_back() {
    let mut w = World::new(limits(2, 10));
    let capacity = w.lanes.limits().lane_capacity() as u32;
    assert_eq!(capacity, 10);
    for job in 0..2 * capacity {
        assert_eq!(w.lanes.hand_over(w.a, w.tenant, job, w.t0), None);
    }
    assert_eq!(w.lanes.hand_over(w.a, w.tenant, 99, w.t0), Some(99));
    assert_eq!(w.lanes.hand_over(w.b, w.tenant, 98, w.t0), None);
}

#[test]
fn a_claim_skips_busy_endpoints_and_tenants_and_a_drained_one_makes_the_next_claim_due() {
    let mut w = World::new(limits(2, 2));
    w.queue(w.a, w.tenant, 0..2, Duration::ZERO);
    w.queue(w.b, w.tenant, 10..12, Duration::ZERO);
    w.queue(w.c, w.other_tenant, 20..21, Duration::ZERO);
    let plan = w.lanes.plan_claim();
    let mut busy = plan.busy_endpoints.clone();
    busy.sort_unstable();
    let mut expected = vec![w.a, w.b];
    expected.sort_unstable();
    assert_eq!(busy, expected);
    assert_eq!(
        plan.busy_tenants,
        [w.tenant],
        "4 queued, twice its concurrency"
    );
    assert_eq!(plan.limit, 10);

    let verdict = w.lanes.claimed(plan, 3, false);
    assert_eq!(
        verdict,
        ClaimVerdict {
            full: false,
            starved: true
        }
    );
    // The tenant's two permits go to one of its endpoints, whichever comes first.
    let started = w.started(Duration::ZERO);
    assert_eq!(started.len(), 3);
    assert!(started.contains(&20));
    let drained = if started.contains(&0) { w.a } else { w.b };
    assert!(
        w.lanes.finished(drained, w.tenant),
        "a skipped endpoint drained below its concurrency"
    );
    assert!(!w.lanes.finished(w.c, w.other_tenant), "C was not skipped");
}

#[test]
fn a_claim_is_full_when_it_took_its_limit_or_an_endpoints_capacity_and_starved_only_when_short_behind_busy_ones()
 {
    let w = World::new(limits(2, 10));
    let mut lanes = w.lanes;
    let plan = lanes.plan_claim();
    assert_eq!((plan.limit, plan.per_endpoint), (10, 10));
    assert!(lanes.claimed(plan.clone(), 10, false).full);
    let short = lanes.claimed(plan.clone(), 3, false);
    assert_eq!(
        short,
        ClaimVerdict {
            full: false,
            starved: false
        },
        "nothing was skipped"
    );
    let busy = ClaimPlan {
        busy_endpoints: vec![w.a],
        ..plan
    };
    assert!(!lanes.claimed(busy.clone(), 3, true).starved, "a full scan");
    assert!(lanes.claimed(busy, 3, false).starved);
}

#[test]
fn jobs_start_only_while_their_attempt_fits_in_the_lease() {
    // 60 s lease, 10 s timeout: 50 s of slack, 5 s margin.
    assert_eq!(start_window(60, 10), Duration::from_secs(45));
    assert_eq!(start_window(5, 2), Duration::from_millis(1500));
    assert_eq!(start_window(3, 2), Duration::from_millis(500));
    assert_eq!(start_window(2, 10), Duration::ZERO);
}
