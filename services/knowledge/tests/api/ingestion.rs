//! Crash safety of ingestion: abandoned leases are resumed, held ones are not stolen,
//! documents that keep killing their engine end failed with a reason, and unreadable
//! content fails at once.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_knowledge::db::queue;
use temponest_knowledge::domain::ingest;
use uuid::Uuid;

use crate::helpers::{TestApp, config, pdf, spawn_with, spawn_with_collection};

/// An app whose ingestion engine the test starts itself.
async fn without_engine(pool: PgPool) -> TestApp {
    let mut config = config();
    config.knowledge.run_engine = false;
    spawn_with(pool, config).await
}

/// Claims every queued document for an engine that then "dies": its lease lapses at once.
async fn abandon(app: &TestApp) -> Vec<Uuid> {
    let dead = Uuid::now_v7();
    let claimed = queue::claim(&app.pool, dead, Duration::from_millis(1), 3, 10)
        .await
        .unwrap();
    claimed.into_iter().map(|c| c.id).collect()
}

fn id(document: &Value) -> Uuid {
    document["id"].as_str().unwrap().parse().unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_document_abandoned_mid_ingestion_is_resumed_by_the_next_engine(pool: PgPool) {
    let app = without_engine(pool).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    let document = app
        .add(
            &ada.token,
            &collection,
            "notes.md",
            "# Notes\n\nResumed after a crash.",
        )
        .await;
    assert_eq!(abandon(&app).await, [id(&document)]);
    let engine = ingest::start(app.state.clone());
    let ready = app.settled(&ada.token, &document).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["attempts"], 2, "the dead engine's claim counted");
    assert_eq!(ready["chunk_count"], 1);
    let ranked = app.ranked(&ada.token, &collection, "crash").await;
    assert_eq!(ranked, ["notes.md"]);
    engine.shutdown().await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_document_under_a_live_lease_is_not_claimed_by_another_engine(pool: PgPool) {
    let app = without_engine(pool).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    app.add(&ada.token, &collection, "a.txt", "held").await;
    let holder = Uuid::now_v7();
    let held = queue::claim(&app.pool, holder, Duration::from_secs(3600), 3, 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let other = queue::claim(&app.pool, Uuid::now_v7(), Duration::from_secs(3600), 3, 10)
        .await
        .unwrap();
    assert!(other.is_empty(), "{other:?}");
    // The holder's lease is what lets it write: another engine's outcome is not recorded.
    assert!(
        !queue::fail(&app.pool, held[0].id, Uuid::now_v7(), "x")
            .await
            .unwrap()
    );
    assert!(
        queue::fail(&app.pool, held[0].id, holder, "gave up")
            .await
            .unwrap()
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_document_that_keeps_killing_its_engine_ends_failed_with_the_reason(pool: PgPool) {
    let app = without_engine(pool).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    let document = app
        .add(&ada.token, &collection, "poison.txt", "poison")
        .await;
    let before = app
        .fetch(&ada.token, &format!("/rag/collections/{collection}"))
        .await;
    for _ in 0..3 {
        assert_eq!(abandon(&app).await, [id(&document)]);
    }
    let engine = ingest::start(app.state.clone());
    let failed = app.settled(&ada.token, &document).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 3);
    let reason = failed["error"].as_str().unwrap();
    assert!(reason.contains("interrupted 3 times"), "{reason}");
    let after = app
        .fetch(&ada.token, &format!("/rag/collections/{collection}"))
        .await;
    assert!(after["version"].as_i64() > before["version"].as_i64());
    engine.shutdown().await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unreadable_content_fails_at_once_with_the_reason_and_others_still_ingest(pool: PgPool) {
    let (app, ada, collection) = spawn_with_collection(pool, json!({})).await;
    let broken = (
        "broken.pdf",
        b"%PDF-1.7\nthis is not a pdf body".to_vec(),
        None,
    );
    let broken = app.uploaded(&ada.token, &collection, broken, 201).await;
    let fine = ("fine.pdf", pdf(&["Quarterly numbers"]), None);
    let fine = app.uploaded(&ada.token, &collection, fine, 201).await;
    let failed = app.settled(&ada.token, &broken).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1, "a content problem is not retried");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("PDF could not be read"),
        "{failed}"
    );
    assert_eq!(failed["chunk_count"], 0);
    let ready = app.settled(&ada.token, &fine).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let page = app
        .page(
            &ada.token,
            &format!("/rag/collections/{collection}/documents?status=failed"),
        )
        .await;
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0]["id"], broken["id"]);
    let stuck = format!("GET /rag/collections/{collection}/documents?status=stuck");
    app.refused(&ada.token, &stuck, None, 422, "status").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn hostile_documents_fail_with_the_reason_and_do_not_take_the_service_down(pool: PgPool) {
    // Nested far deeper than any page (once a stack overflow that aborted the process), and
    // one long line without a break (once minutes of chunking).
    let (app, ada, collection) = spawn_with_collection(pool, json!({})).await;
    let depth = 200_000;
    let deep = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
    let deep = ("deep.html", deep.into_bytes(), None);
    let deep = app.uploaded(&ada.token, &collection, deep, 201).await;
    let line = "words on one line without a break ".repeat(60_000);
    let line = ("line.txt", line.into_bytes(), None);
    let line = app.uploaded(&ada.token, &collection, line, 201).await;

    let failed = app.settled(&ada.token, &deep).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "a content problem is not retried");
    let reason = failed["error"].as_str().unwrap();
    assert!(
        reason.contains("nests elements more than 256 deep"),
        "{reason}"
    );
    let ready = app.settled(&ada.token, &line).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["chunk_count"].as_i64().unwrap() > 1_000, "{ready}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn new_chunk_sizes_rechunk_the_collections_documents(pool: PgPool) {
    let (app, ada, collection) =
        spawn_with_collection(pool, json!({"chunk_size": 1000, "chunk_overlap": 0})).await;
    let text: String = (1..=40).map(|i| format!("Line {i} of the log. ")).collect();
    let document = app.ingest(&ada.token, &collection, "log.txt", &text).await;
    assert_eq!(document["chunk_count"], 1);
    app.update(
        &ada.token,
        &format!("/rag/collections/{collection}"),
        &json!({"chunk_size": 100, "chunk_overlap": 10}),
    )
    .await;
    let rechunked = app
        .document_until(&ada.token, &document, |d| {
            d["status"] == "ready" && d["chunk_count"].as_i64() > Some(1)
        })
        .await;
    assert!(rechunked["attempts"].as_i64() >= Some(1), "{rechunked}");
}
