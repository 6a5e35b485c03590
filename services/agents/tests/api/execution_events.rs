//! `GET /executions/events`: the tenant's executions as they change, fed by Postgres
//! notifications (so from any process on the database), filtered like the list, never
//! another tenant's.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{
    Session, TestApp, assert_event_stream, echo_agent, expect_error, spawn, spawn_with_agent,
};

/// The `event:`/`data:` events of an open SSE response, read as they arrive.
struct Events {
    resp: Response,
    buffer: String,
}

impl Events {
    /// Opens the stream at `path` (asserting 200 and `text/event-stream`).
    async fn open(app: &TestApp, token: &str, path: &str) -> Self {
        let resp = app.get(token, path).await;
        assert_event_stream(&resp);
        Self {
            resp,
            buffer: String::new(),
        }
    }

    /// The next event as (event type, data as JSON); comments (heartbeats) are skipped. A
    /// test fails if none comes within 20 s.
    async fn next(&mut self) -> (String, Value) {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let (mut kind, mut data) = (String::from("message"), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            kind = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if !data.is_empty() {
                        return (kind, serde_json::from_str(&data).unwrap());
                    }
                }
                let chunk = self
                    .resp
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("an event within 20 s")
    }

    /// The next `execution` event's data.
    async fn execution(&mut self) -> Value {
        let (kind, data) = self.next().await;
        assert_eq!(kind, "execution", "{data}");
        data
    }
}

/// Runs `agent` synchronously for `who` and returns the execution.
async fn run(app: &TestApp, who: &Session, agent: &Value, message: &str) -> Value {
    app.execute(&who.token, agent["id"].as_str().unwrap(), message)
        .await
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_execution_is_announced_when_created_started_and_completed(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("Parrot", "echo-1")).await;
    let mut events = Events::open(&app, &ada.token, "/executions/events").await;
    let done = run(&app, &ada, &agent, "one two three").await;

    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        last = events.execution().await;
        assert_eq!(last["id"], done["id"]);
        assert_eq!(last["agent_id"], agent["id"]);
        statuses.push(last["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["pending", "running", "completed"]);
    // The last event shows what the list shows of the finished execution.
    for field in [
        "status",
        "outcome",
        "tokens_used",
        "cost_usd",
        "unpriced",
        "created_at",
    ] {
        assert_eq!(last[field], done[field], "{field}");
    }
    assert!(last["completed_at"].is_string());
    assert!(last["tokens_used"]["total"].as_i64().unwrap() > 0);

    // `/executions/events` is not taken for an execution id, nor the other way round.
    let one = app
        .fetch(
            &ada.token,
            &format!("/executions/{}", done["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(one["id"], done["id"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_tenants_executions_never_arrive(pool: PgPool) {
    let app = spawn(pool).await;
    let (ada, ada_agent) = app.ada_with_agent(echo_agent("Ada's", "echo-1")).await;
    let bob = app.signup("bob@example.com").await;
    let bob_agent = app.agent(&bob.token, echo_agent("Bob's", "echo-1")).await;
    let mut bobs = Events::open(&app, &bob.token, "/executions/events").await;

    run(&app, &ada, &ada_agent, "secret of ada").await;
    let own = run(&app, &bob, &bob_agent, "bob's own").await;
    // Notifications arrive in commit order: had Ada's been let through, they would come first.
    for status in ["pending", "running", "completed"] {
        let event = bobs.execution().await;
        assert_eq!(event["id"], own["id"], "only Bob's execution: {event}");
        assert_eq!(event["status"], status);
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_stream_is_filtered_by_agent_and_status_like_the_list(pool: PgPool) {
    let (app, ada, wanted) = spawn_with_agent(pool, echo_agent("Wanted", "echo-1")).await;
    let other = app.agent(&ada.token, echo_agent("Other", "echo-1")).await;
    let path = format!(
        "/executions/events?status=completed&agent_id={}",
        wanted["id"].as_str().unwrap()
    );
    let mut completed = Events::open(&app, &ada.token, &path).await;
    let mut running = Events::open(&app, &ada.token, "/executions/events?status=running").await;

    let skipped = run(&app, &ada, &other, "not this agent").await;
    let kept = run(&app, &ada, &wanted, "this one").await;
    let event = completed.execution().await;
    assert_eq!(event["id"], kept["id"]);
    assert_eq!(event["status"], "completed");
    for expected in [&skipped, &kept] {
        let event = running.execution().await;
        assert_eq!(event["id"], expected["id"]);
        assert_eq!(event["status"], "running");
    }

    for (query, field) in [
        ("status=cancelled", "status"),
        ("agent_id=not-a-uuid", "agent_id"),
    ] {
        let resp = app
            .get(&ada.token, &format!("/executions/events?{query}"))
            .await;
        expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    }
    let anonymous = app.get_public("/executions/events", &[]).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // A viewer reads executions, so it may follow them.
    let viewer = app.viewer(&ada.token, "vic@example.com").await;
    let mut watching = Events::open(&app, &viewer, "/executions/events").await;
    let third = run(&app, &ada, &wanted, "seen by the viewer").await;
    assert_eq!(watching.execution().await["id"], third["id"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_subscriber_of_one_process_hears_executions_run_by_another(pool: PgPool) {
    let (first, ada, agent) = spawn_with_agent(pool.clone(), echo_agent("Parrot", "echo-1")).await;
    // A second process on the same database: its own listener, its own broadcast.
    let second = spawn(pool).await;
    let mut events = Events::open(&second, &ada.token, "/executions/events").await;

    let done = run(&first, &ada, &agent, "across processes").await;
    let mut last = Value::Null;
    for status in ["pending", "running", "completed"] {
        last = events.execution().await;
        assert_eq!(last["id"], done["id"]);
        assert_eq!(last["status"], status);
    }
    assert_eq!(last["cost_usd"], done["cost_usd"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_cancelled_execution_is_announced_as_failed(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("Parrot", "echo-1")).await;
    let mut events = Events::open(&app, &ada.token, "/executions/events?status=failed").await;
    // A pending execution written as the API writes it, then cancelled through the API.
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, user_message, provider, model)
         values ($1, $2::uuid, $3::uuid, 'wait', 'echo', 'echo-1')",
    )
    .bind(id)
    .bind(&ada.tenant_id)
    .bind(agent["id"].as_str().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    app.cancel(&ada.token, &format!("/executions/{id}")).await;
    let event = events.execution().await;
    assert_eq!(event["id"], id.to_string());
    assert_eq!(event["status"], "failed");
    assert_eq!(event["outcome"], "cancelled");
}
