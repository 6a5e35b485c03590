//! The outbox against a real Postgres: events exist only for committed transactions,
//! concurrent consumers never claim the same event, a claim marks what it claimed and reads
//! only its batch whatever the statistics, and publishing notifies listeners at commit.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use temponest_outbox::consumer::consumed_event;
use temponest_outbox::{NOTIFY_CHANNEL, publish, purge_processed};
use temponest_test_client::plan;
use uuid::Uuid;

/// An event as the test consumer below sees it, with how many its round marked processed.
#[derive(Debug)]
struct Claimed {
    id: i64,
    event_id: Uuid,
    tenant_id: Uuid,
    event_type: String,
    payload: Value,
    processed: i64,
}

/// The smallest consumer: one round that claims up to `batch` events and returns them,
/// oldest first.
async fn claim(conn: &mut PgConnection, batch: i64) -> Vec<Claimed> {
    temponest_outbox::claim_with!(
        as Claimed,
        r#"select c.id as "id!", c.event_id as "event_id!", c.tenant_id as "tenant_id!",
                  c.event_type as "event_type!", c.payload as "payload!",
                  (select count(*) from processed) as "processed!"
           from claimed c order by c.id"#,
        batch
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Processed-at of every event, in outbox order.
async fn processed_flags(pool: &PgPool) -> Vec<bool> {
    sqlx::query_scalar("select processed_at is not null from platform.outbox order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_event_exists_only_if_its_transaction_committed(pool: PgPool) {
    let tenant = Uuid::new_v4();
    let mut rolled_back = pool.begin().await.unwrap();
    publish(&mut rolled_back, tenant, "agent.created", &json!({"id": 1}))
        .await
        .unwrap();
    rolled_back.rollback().await.unwrap();

    let mut committed = pool.begin().await.unwrap();
    let event_id = publish(&mut committed, tenant, "agent.updated", &json!({"id": 2}))
        .await
        .unwrap();
    committed.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let events = claim(&mut conn, 10).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].processed, 1);
    assert_eq!(events[0].event_id, event_id);
    assert_eq!(events[0].event_type, "agent.updated");
    assert_eq!(events[0].tenant_id, tenant);
    assert_eq!(events[0].payload, json!({"id": 2}));

    assert!(
        claim(&mut conn, 10).await.is_empty(),
        "processed events are not claimed again"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_round_claims_its_batch_oldest_first_and_marks_only_those_processed(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    for i in 0..5 {
        publish(&mut tx, Uuid::new_v4(), "agent.created", &json!({"n": i}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let first = claim(&mut conn, 3).await;
    assert!(first.iter().all(|e| e.processed == 3));
    let numbers: Vec<Value> = first.iter().map(|e| e.payload["n"].clone()).collect();
    assert_eq!(numbers, [json!(0), json!(1), json!(2)], "oldest first");
    assert_eq!(
        processed_flags(&pool).await,
        [true, true, true, false, false]
    );

    let rest = claim(&mut conn, 3).await;
    assert_eq!(rest.len(), 2, "the rest, once");
    assert!(rest.iter().all(|r| first.iter().all(|f| f.id < r.id)));
    assert_eq!(processed_flags(&pool).await, [true; 5]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_round_whose_transaction_rolls_back_leaves_its_events_pending(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    publish(&mut tx, Uuid::new_v4(), "agent.created", &json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert_eq!(claim(&mut tx, 10).await.len(), 1);
    tx.rollback().await.unwrap();
    assert_eq!(processed_flags(&pool).await, [false]);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(claim(&mut conn, 10).await.len(), 1, "claimed again");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn concurrent_consumers_claim_disjoint_events(pool: PgPool) {
    let tenant = Uuid::new_v4();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..10 {
        publish(&mut tx, tenant, "agent.created", &json!({"n": i}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mut first = pool.begin().await.unwrap();
    let mut second = pool.begin().await.unwrap();
    let a = claim(&mut first, 6).await;
    let b = claim(&mut second, 6).await;
    assert_eq!(a.len(), 6);
    assert_eq!(
        b.len(),
        4,
        "the second consumer skips the rows the first holds"
    );
    assert!(a.iter().all(|x| b.iter().all(|y| x.id != y.id)));
    assert!(a.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn listeners_are_notified_when_the_publishing_transaction_commits(pool: PgPool) {
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen(NOTIFY_CHANNEL).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    publish(&mut tx, Uuid::new_v4(), "agent.deleted", &json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("notified within 10 s")
        .unwrap();
    assert_eq!(note.channel(), NOTIFY_CHANNEL);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn malformed_event_types_are_refused_and_processed_events_can_be_purged(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let err = publish(&mut tx, Uuid::new_v4(), "Not An Event", &json!({}))
        .await
        .unwrap_err();
    let violation = temponest_db::constraint_violation(&err).expect("a constraint violation");
    assert_eq!(violation.constraint, "outbox_event_type_format");
    drop(tx);

    let mut tx = pool.begin().await.unwrap();
    publish(&mut tx, Uuid::new_v4(), "agent.created", &json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    claim(&mut pool.acquire().await.unwrap(), 1).await;
    let mut conn = pool.acquire().await.unwrap();
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        purge_processed(&mut conn, hour_ago, 100).await.unwrap(),
        0,
        "recent events are kept"
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(purge_processed(&mut conn, later, 100).await.unwrap(), 1);
}

#[test]
fn every_catalogued_event_type_satisfies_the_table_constraint() {
    for event in temponest_outbox::EVENT_TYPES {
        let parts: Vec<&str> = event.name.split('.').collect();
        assert!(parts.len() >= 2, "{}", event.name);
        assert!(
            parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert!(temponest_outbox::catalogue::is_known(event.name));
    }
}

/// Publishes `event` already consumed by the smallest consumer: returns what `claimed` held.
async fn publish_consumed(conn: &mut PgConnection, event: &str) -> Vec<Claimed> {
    temponest_outbox::publish_consumed_with!(
        as Claimed,
        r#"select c.id as "id!", c.event_id as "event_id!", c.tenant_id as "tenant_id!",
                  c.event_type as "event_type!", c.payload as "payload!",
                  (select count(*) from processed) as "processed!"
           from claimed c"#,
        event
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_event_published_consumed_is_recorded_processed_once_per_id(pool: PgPool) {
    let (tenant, event_id) = (Uuid::new_v4(), Uuid::new_v4());
    let mut conn = pool.acquire().await.unwrap();
    let first = consumed_event(event_id, tenant, "order.paid", &json!({"n": 1}));
    let got = publish_consumed(&mut conn, &first).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (
            got[0].event_id,
            got[0].tenant_id,
            got[0].event_type.as_str()
        ),
        (event_id, tenant, "order.paid")
    );
    assert_eq!((&got[0].payload, got[0].processed), (&json!({"n": 1}), 1));

    let repeat = consumed_event(event_id, tenant, "order.paid", &json!({"n": 2}));
    assert!(
        publish_consumed(&mut conn, &repeat).await.is_empty(),
        "a repeat of the id is neither recorded nor consumed again"
    );
    let payloads: Vec<serde_json::Value> =
        sqlx::query_scalar("select payload from platform.outbox where event_id = $1")
            .bind(event_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(payloads, vec![json!({"n": 1})]);
    assert_eq!(processed_flags(&pool).await, vec![true]);
    assert!(
        claim(&mut conn, 10).await.is_empty(),
        "no consumer gets it again"
    );
}

/// The claim on a young outbox (never analysed, processed events ahead of the pending ones, as
/// mid-burst) has the plan it gets once statistics exist, and no operator visits more than a
/// few batches' rows.
#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_claim_on_a_never_analysed_outbox_reads_only_its_batch(pool: PgPool) {
    const BATCH: i64 = 100;
    let mut conn = pool.acquire().await.unwrap();
    plan::without_autovacuum(&mut conn, "platform.outbox").await;
    let tenant = Uuid::new_v4();
    let events: Vec<(Uuid, &str, Value)> = (0..10_000)
        .map(|n| (tenant, "agent.created", json!({"n": n})))
        .collect();
    temponest_outbox::publish_many(&mut conn, &events)
        .await
        .unwrap();
    for _ in 0..5 {
        claim(&mut conn, BATCH).await;
    }
    let statement = temponest_outbox::claim_sql!("select count(*) from processed");
    plan::assert_statistics_proof(
        &mut conn,
        "platform.outbox",
        (4 * BATCH) as f64,
        statement,
        |q| q.bind(BATCH),
    )
    .await;
}
