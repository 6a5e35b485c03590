//! No loss under a crash: an engine running on its own Tokio runtime is killed (the runtime is
//! dropped, killing its tasks mid-attempt and closing its connections) while it holds leased
//! deliveries; a fresh engine takes them over — at once, since the dead engine's instance
//! lock is gone, or once the leases expire — and every event is delivered at least once,
//! with the same `webhook-id` as its first attempt.

use std::collections::HashSet;

use serde_json::json;
use sqlx::PgPool;
use temponest_test_client::fixtures::doomed_engine;
use temponest_webhooks::AppState;
use temponest_webhooks::domain::engine;
use temponest_webhooks::state::AppStateFields;
use uuid::Uuid;

use temponest_test_client::fixtures::count;

use crate::helpers::{TestApp, config, eventually, spawn_with};
use crate::receiver::{Receiver, Reply, endpoint, publish, settled};

const EVENTS: usize = 50;
/// The receiver answers the first `ANSWERED` requests, then stalls `STALLED` of them.
const ANSWERED: usize = 5;
const STALLED: usize = 8;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn no_event_is_lost_when_a_sender_dies_mid_batch(pool: PgPool) {
    let (app, receiver, id, published, kill, doomed) = stalled(&pool, 3).await;
    let leased = count(&pool, "select count(*) from webhooks.deliveries where leased_by is not null and status <> 'success'").await;
    kill.send(()).unwrap();
    let doomed_id = tokio::task::spawn_blocking(move || doomed.join().unwrap())
        .await
        .unwrap();
    assert!(
        leased >= STALLED as i64,
        "only {leased} deliveries were leased at the crash"
    );

    let survivor = engine::start(app.state.clone());
    assert_ne!(survivor.id(), doomed_id);
    let rows = settled(&pool, id, EVENTS).await;
    assert!(rows.iter().all(|d| d.status == "success"), "{rows:#?}");
    survivor.shutdown().await;

    let requests = receiver.requests();
    let webhook_id = |i: usize| -> Uuid { requests[i].header("webhook-id").parse().unwrap() };
    let stalled: Vec<Uuid> = (ANSWERED..ANSWERED + STALLED).map(webhook_id).collect();
    let answered: Vec<Uuid> = (0..requests.len())
        .filter(|i| !(ANSWERED..ANSWERED + STALLED).contains(i))
        .map(webhook_id)
        .collect();
    let delivered: HashSet<Uuid> = answered.iter().copied().collect();
    assert_eq!(
        delivered, published,
        "every event is delivered at least once"
    );
    for id in &stalled {
        // Redelivered with the webhook-id of the attempt that died with the engine.
        assert!(answered.contains(id), "stalled {id} was never redelivered");
    }
    let successful: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
    assert_eq!(
        successful.iter().copied().collect::<HashSet<_>>(),
        published
    );
}

/// A doomed engine (see [`killable_engine`]) holding a batch mid-flight: `EVENTS` events for
/// one endpoint, whose receiver answered the first `ANSWERED` and hangs on `STALLED` more.
/// The app, the receiver, the endpoint, the ids of the published events, and the doomed
/// engine's kill switch and thread.
type Stalled = (
    TestApp,
    Receiver,
    Uuid,
    HashSet<Uuid>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Uuid>,
);

/// Publishes the batch and starts the doomed engine with leases of `lease_secs`; returns once
/// the receiver stalls.
async fn stalled(pool: &PgPool, lease_secs: u64) -> Stalled {
    let mut config = config();
    config.webhooks.lease_secs = lease_secs;
    config.webhooks.per_endpoint_concurrency = STALLED;
    let app = spawn_with(pool.clone(), config, false).await;
    let tenant = Uuid::new_v4();
    let receiver = Receiver::start().await;
    receiver.script(
        std::iter::repeat_n(Reply::Status(200), ANSWERED)
            .chain(std::iter::repeat_n(Reply::Hang, STALLED)),
    );
    let (id, _) = endpoint(pool, tenant, &receiver.url, &["*"], 5).await;
    let mut published = HashSet::new();
    for n in 0..EVENTS {
        published.insert(publish(pool, tenant, "order.paid", json!({"n": n})).await);
    }
    let (kill, doomed) = killable_engine(&app.state, pool);
    assert!(
        receiver.wait_for(ANSWERED + STALLED).await,
        "the doomed engine never stalled"
    );
    (app, receiver, id, published, kill, doomed)
}

/// An engine that the test kills (see [`doomed_engine`]); the thread returns its id.
fn killable_engine(
    state: &AppState,
    pool: &PgPool,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<Uuid>) {
    let state = state.clone();
    let start = move |pool| {
        engine::start(AppState::from(AppStateFields {
            pool,
            ..state.to_fields()
        }))
    };
    doomed_engine(pool, start, |engine| engine.id())
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn leases_of_a_killed_sender_are_released_within_seconds_not_at_lease_expiry(pool: PgPool) {
    // A lease far beyond the test's deadline: only the dead-instance release can meet it.
    let (app, receiver, id, published, kill, doomed) = stalled(&pool, 600).await;
    let registered = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from platform.instances where role = 'webhooks'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert!(
        eventually(|| async { registered().await == 1 }).await,
        "the doomed engine registered its instance"
    );
    kill.send(()).unwrap();
    let doomed_id = tokio::task::spawn_blocking(move || doomed.join().unwrap())
        .await
        .unwrap();
    let leased: i64 = sqlx::query_scalar(
        "select count(*) from webhooks.deliveries where leased_by = $1 and status <> 'success'",
    )
    .bind(doomed_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(leased >= STALLED as i64, "only {leased} were leased");

    let survivor = engine::start(app.state.clone());
    // `settled` gives up after 15 s, far below the 600 s lease.
    let rows = settled(&pool, id, EVENTS).await;
    assert!(rows.iter().all(|d| d.status == "success"), "{rows:#?}");
    let delivered: HashSet<Uuid> = receiver
        .requests()
        .iter()
        .enumerate()
        .filter(|(i, _)| !(ANSWERED..ANSWERED + STALLED).contains(i))
        .map(|(_, r)| r.header("webhook-id").parse().unwrap())
        .collect();
    assert_eq!(delivered, published, "none is lost");
    let dead_rows: i64 =
        sqlx::query_scalar("select count(*) from platform.instances where id = $1")
            .bind(doomed_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        dead_rows, 0,
        "the dead instance is deregistered by the survivor"
    );
    survivor.shutdown().await;
}

/// An app with its engine running and an endpoint (its id) whose receiver hangs on the one
/// attempt in flight.
async fn attempt_in_flight(pool: &PgPool) -> (TestApp, Receiver, Uuid) {
    let app = spawn_with(pool.clone(), config(), true).await;
    let tenant = Uuid::new_v4();
    let receiver = Receiver::start().await;
    receiver.script([Reply::Hang]);
    let (id, _) = endpoint(pool, tenant, &receiver.url, &["*"], 3).await;
    publish(&app.pool, tenant, "order.paid", json!({})).await;
    assert!(receiver.wait_for(1).await);
    (app, receiver, id)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn shutdown_finishes_attempts_in_flight_and_releases_leases(pool: PgPool) {
    let (mut app, _receiver, id) = attempt_in_flight(&pool).await;

    // The hanging attempt runs into its 2 s timeout within the shutdown grace and is recorded.
    app.engine.take().unwrap().shutdown().await;
    let row: (String, i32, Option<Uuid>, Option<String>) = sqlx::query_as(
        "select status, attempt_count, leased_by, error_class from webhooks.deliveries
         where endpoint_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row, ("retrying".into(), 1, None, Some("timeout".into())));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_stopping_sender_stays_registered_until_its_attempts_are_recorded(pool: PgPool) {
    let (mut app, _receiver, id) = attempt_in_flight(&pool).await;
    let engine = app.engine.take().unwrap();
    let engine_id = engine.id();
    let state = || async {
        sqlx::query_as::<_, (bool, i32)>(
            "select exists (select 1 from platform.instances where id = $1),
                    (select attempt_count from webhooks.deliveries where endpoint_id = $2)",
        )
        .bind(engine_id)
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert!(eventually(|| async { state().await.0 }).await, "registered");

    // A crash during the grace period must still be recognised: until the hanging attempt
    // has run into its 2 s timeout and been recorded, the engine stays registered.
    let stopping = tokio::spawn(engine.shutdown());
    tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            let (registered, attempts) = state().await;
            if attempts > 0 {
                return;
            }
            assert!(registered, "deregistered while its attempt was in flight");
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the attempt was recorded at shutdown");
    stopping.await.unwrap();
    assert!(
        eventually(|| async { !state().await.0 }).await,
        "deregistered once stopped"
    );
}
