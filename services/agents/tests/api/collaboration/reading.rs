//! Reading sessions: the list with its filters and total, tenant isolation, and the SSE
//! stream of step events.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{ada_team, collaborate, team};
use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{parse_sse, spawn, spawn_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn sessions_are_listed_newest_first_filtered_by_pattern_and_status(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let ids = team(&app, &ada.token, "echo", &[("A", "m"), ("B", "m")]).await;
    let sequential = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "hi"}),
    )
    .await;
    let parallel = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "parallel", "agent_ids": ids, "messages": ["1", "2"]}),
    )
    .await;
    // B is given the history (the message and A's output) and echoes it.
    assert_eq!(
        sequential["final_output"],
        "Echo: hi\n\n--- A ---\nEcho: hi"
    );
    let all = app.page(&ada.token, "/collaboration/sessions/").await;
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0]["id"], parallel["id"], "newest first");
    assert_eq!(
        all.items[1], sequential,
        "listed as fetched, with its steps"
    );
    let page = app
        .page(&ada.token, "/collaboration/sessions?limit=1&skip=1")
        .await;
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0]["id"], sequential["id"]);
    let filtered = app
        .page(
            &ada.token,
            "/collaboration/sessions/?pattern=parallel&status=completed",
        )
        .await;
    assert_eq!(filtered.total, 1);
    assert_eq!(filtered.items[0]["id"], parallel["id"]);
    let none = app
        .page(&ada.token, "/collaboration/sessions/?status=failed")
        .await;
    assert_eq!(none.total, 0);
    app.expect_refusals(
        &ada.token,
        &[
            (
                "GET /collaboration/sessions/?pattern=swarm",
                None,
                422,
                "pattern",
            ),
            (
                "GET /collaboration/sessions/?status=cancelled",
                None,
                422,
                "pending, running, completed, failed",
            ),
            (
                "GET /collaboration/sessions/not-a-uuid",
                None,
                404,
                "not found",
            ),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_tenants_sessions_and_agents_are_invisible(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let adas = team(&app, &ada.token, "echo", &[("A", "m")]).await;
    let bobs = team(&app, &bob.token, "echo", &[("B", "m")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": adas, "initial_message": "hi"}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    app.expect_refusals(
        &bob.token,
        &[
            (&format!("GET /collaboration/sessions/{id}"), None, 404, "not found"),
            (&format!("GET /collaboration/sessions/{id}/stream"), None, 404, "not found"),
            (&format!("POST /collaboration/sessions/{id}/cancel"), Some(json!({})), 404, "not found"),
            (
                "POST /collaboration/execute",
                Some(json!({"pattern": "sequential", "agent_ids": [bobs[0], adas[0]], "initial_message": "hi"})),
                404,
                &format!("agent not found: {}", adas[0]),
            ),
        ],
    )
    .await;
    assert_eq!(
        app.page(&bob.token, "/collaboration/sessions/").await.total,
        0
    );
    let bobs_runs: i64 =
        sqlx::query_scalar("select count(*) from agents.executions where tenant_id = $1::uuid")
            .bind(&bob.tenant_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(bobs_runs, 0, "nothing started for the refused request");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_stream_tells_each_step_start_and_end_then_the_session(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let ids = team(&app, &ada.token, "echo", &[("A", "m"), ("B", "m")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "hi"}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    let resp = app
        .get(&ada.token, &format!("/collaboration/sessions/{id}/stream"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let frames = parse_sse(&resp.text().await.unwrap());
    let ids_seen: Vec<&str> = frames.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids_seen, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(frames.last().unwrap().1, "[DONE]");
    let events: Vec<Value> = frames[..5]
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "step_started",
            "step_completed",
            "step_started",
            "step_completed",
            "session_completed"
        ]
    );
    assert_eq!(events[1]["step"]["output"], "Echo: hi");
    assert_eq!(events[3]["step"]["step_key"], "pass-1/agent-1");
    assert_eq!(events[4]["session"], session);
    app.refused(
        &ada.token,
        "GET /collaboration/sessions/00000000-0000-0000-0000-000000000000/stream",
        None,
        404,
        "not found",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_stream_follows_a_running_session_live(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Held("done".into())], None).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "m-a")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go", "wait": false}),
    )
    .await;
    fake.wait_for_request().await;
    let id = session["id"].as_str().unwrap();
    let mut resp = app
        .get(&ada.token, &format!("/collaboration/sessions/{id}/stream"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The step has started and its model call is held: the stream says so before it ends.
    let mut seen = String::new();
    while !seen.contains("step_started") {
        let chunk = resp.chunk().await.unwrap().expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains("step_completed"), "{seen}");
    fake.open_gate();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let kinds: Vec<String> = parse_sse(&seen)
        .iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| {
            serde_json::from_str::<Value>(data).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        ["step_started", "step_completed", "session_completed"]
    );
    assert!(seen.trim_end().ends_with("data: [DONE]"), "{seen}");
}
