//! webhooks: endpoints, a test delivery to a real local receiver, deliveries with their
//! attempts, retry, event types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use serde_json::json;
use sqlx::PgPool;
use temponest_test_client::serve;

use crate::helpers::{eventually, platform_with_ada};

/// A receiver answering 200 and counting what it got; returns its URL.
async fn receiver(received: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/hooks",
        post(move || {
            received.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        }),
    );
    format!("http://{}/hooks", serve(app).await)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_endpoint_is_tested_and_its_deliveries_retried(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    let received = Arc::new(AtomicUsize::new(0));
    let url = receiver(received.clone()).await;

    let events = cli.json(&["webhooks", "events"]).await;
    assert!(events.as_array().unwrap().contains(&json!("webhook.test")));
    let created = cli
        .json(&[
            "webhooks",
            "create",
            "--name",
            "ops",
            "--endpoint-url",
            &url,
            "--event",
            "webhook.test",
            "--event",
            "agent.created",
            "--header",
            "X-Team=ops",
            "--max-retries",
            "2",
        ])
        .await;
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["retry_config"]["max_retries"], 2);
    let id = created["id"].as_str().unwrap().to_owned();
    let listed = cli.json(&["webhooks", "list"]).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none());

    let delivery = cli.json(&["webhooks", "test", &id]).await;
    assert_eq!(delivery["event_type"], "webhook.test");
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    let (c, did) = (&cli, delivery_id.as_str());
    assert!(
        eventually(|| async move {
            c.json(&["webhooks", "delivery", did]).await["status"] == "success"
        })
        .await,
        "the test delivery never succeeded"
    );
    let detail = cli.json(&["webhooks", "delivery", &delivery_id]).await;
    assert_eq!(detail["attempts"][0]["response_status"], 200);
    let table = cli.run(&["webhooks", "delivery", &delivery_id]).await.ok();
    assert!(
        table.contains("ATTEMPT") && table.contains("200"),
        "{table}"
    );
    let deliveries = cli
        .json(&["webhooks", "deliveries", &id, "--status", "success"])
        .await;
    assert_eq!(deliveries[0]["id"], delivery_id.as_str());

    let retried = cli.json(&["webhooks", "retry", &delivery_id]).await;
    assert_eq!(retried["id"], delivery_id.as_str());
    assert!(
        eventually(|| {
            let received = received.clone();
            async move { received.load(Ordering::SeqCst) >= 2 }
        })
        .await,
        "the retried delivery never arrived"
    );

    let disabled = cli
        .json(&["webhooks", "update", &id, "--active", "false"])
        .await;
    assert_eq!(disabled["is_active"], false);
    cli.fails(
        &[
            "webhooks",
            "create",
            "--name",
            "x",
            "--endpoint-url",
            "not a url",
            "--event",
            "agent.created",
        ],
        1,
        "url",
    )
    .await;
    cli.fails(
        &[
            "webhooks",
            "create",
            "--name",
            "x",
            "--header",
            "novalue",
            "--endpoint-url",
            &url,
            "--event",
            "a",
        ],
        2,
        "NAME=VALUE",
    )
    .await;
    assert_eq!(
        cli.json(&["webhooks", "delete", &id]).await["deleted"],
        true
    );
}
