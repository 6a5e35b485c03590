//! The outbox against a real Postgres: events exist only for committed transactions,
//! concurrent consumers never claim the same event, and publishing notifies listeners at
//! commit.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use temponest_outbox::{
    NOTIFY_CHANNEL, claim_pending, mark_processed, publish, publish_with_id, purge_processed,
};
use uuid::Uuid;

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

    let mut tx = pool.begin().await.unwrap();
    let events = claim_pending(&mut tx, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, event_id);
    assert_eq!(events[0].event_type, "agent.updated");
    assert_eq!(events[0].tenant_id, tenant);
    assert_eq!(events[0].payload, json!({"id": 2}));
    mark_processed(&mut tx, &[events[0].id]).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert!(
        claim_pending(&mut tx, 10).await.unwrap().is_empty(),
        "processed events are not claimed again"
    );
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
    let a = claim_pending(&mut first, 6).await.unwrap();
    let b = claim_pending(&mut second, 6).await.unwrap();
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
    let events = claim_pending(&mut tx, 1).await.unwrap();
    mark_processed(&mut tx, &[events[0].id]).await.unwrap();
    tx.commit().await.unwrap();
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

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn publishing_with_an_id_already_in_the_outbox_records_nothing(pool: PgPool) {
    let (tenant, event_id) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = pool.begin().await.unwrap();
    assert!(
        publish_with_id(&mut tx, event_id, tenant, "order.paid", &json!({"n": 1}))
            .await
            .unwrap()
    );
    assert!(
        !publish_with_id(&mut tx, event_id, tenant, "order.paid", &json!({"n": 2}))
            .await
            .unwrap(),
        "a repeat is not recorded"
    );
    tx.commit().await.unwrap();
    let payloads: Vec<serde_json::Value> =
        sqlx::query_scalar("select payload from platform.outbox where event_id = $1")
            .bind(event_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(payloads, vec![json!({"n": 1})]);
}
