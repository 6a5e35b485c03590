//! Sessions over time: cancellation mid-session, a restart mid-session, the wait limit, and
//! costs equal to the steps' cost records.

use serde_json::json;
use sqlx::PgPool;
use temponest_platform::StopPhase;

use super::{ada_team, collaborate, ended, steps, tagged, team};
use crate::fake_llm::{FakeLlm, Reply, aborted, last_message};
use crate::helpers::{Harness, TestApp, spawn_with};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cancelling_a_session_aborts_its_running_step_and_starts_no_other(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Hang("thinking".into())], None).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "m-a"), ("B", "m-b")]).await;
    let started = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go", "wait": false}),
    )
    .await;
    fake.wait_for_request().await;
    let closed = fake.closed();
    let id = started["id"].as_str().unwrap();
    let cancelled = app
        .cancel(&ada.token, &format!("/collaboration/sessions/{id}"))
        .await;
    assert_eq!(cancelled["status"], "failed");
    assert_eq!(cancelled["outcome"], "cancelled");
    aborted(&closed, "the step's upstream call was aborted").await;
    let session = ended(&app, &ada.token, id).await;
    assert_eq!(session["outcome"], "cancelled");
    let flow = session["results"].as_array().unwrap();
    assert_eq!(flow.len(), 1, "the second step never started: {session}");
    assert_eq!(flow[0]["status"], "failed");
    assert_eq!(flow[0]["outcome"], "cancelled");
    assert_eq!(fake.requests().len(), 1);
    assert!(
        crate::helpers::eventually(|| async {
            app.state.sessions.get(id.parse().unwrap()).is_none()
        })
        .await,
        "the session's task ended"
    );
    app.refused(
        &ada.token,
        &format!("POST /collaboration/sessions/{id}/cancel"),
        Some(&json!({})),
        409,
        "already ended",
    )
    .await;
    let events = app.event_types(&ada.tenant_id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "collaboration.failed")
            .count(),
        1
    );
}

/// A platform whose engines the test stops (a process shutting down).
async fn spawn_stoppable(
    pool: PgPool,
    config: temponest_agents::AgentsConfig,
) -> (TestApp, temponest_test_client::Spawned) {
    let spawned = Harness::new(pool)
        .await
        .spawn([
            temponest_auth::service(temponest_auth::AuthConfig::default().with_fast_hashing()),
            temponest_agents::service(config),
        ])
        .await;
    let app = TestApp {
        api: spawned.api.clone(),
        pool: spawned.pool.clone(),
        state: spawned.state(),
    };
    (app, spawned)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_session_interrupted_by_a_restart_is_resumed_from_its_last_finished_step(pool: PgPool) {
    // B's first call hangs (the process stops during it); every other call answers.
    let fake = FakeLlm::respond(
        |i, body| {
            if i == 1 {
                Reply::Hang("half".into())
            } else {
                tagged(i, body)
            }
        },
        None,
    )
    .await;
    let (first, mut spawned) = spawn_stoppable(pool.clone(), fake.config()).await;
    let ada = first.signup("ada@example.com").await;
    let ids = team(
        &first,
        &ada.token,
        "openai",
        &[("A", "m-a"), ("B", "m-b"), ("C", "m-c")],
    )
    .await;
    let started = collaborate(
        &first,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go",
               "config": {"pass_full_history": false}, "wait": false}),
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    fake.wait_for_requests(2).await;
    // The process shuts down: its engines stop.
    spawned.engines.stop(StopPhase::AfterDrain).await;
    let left = first
        .fetch(&ada.token, &format!("/collaboration/sessions/{id}"))
        .await;
    assert_eq!(
        left["status"], "running",
        "not failed: it will be resumed: {left}"
    );
    assert_eq!(left["results"][1]["outcome"], "interrupted");

    let second = spawn_with(pool, fake.config()).await;
    let session = ended(&second, &ada.token, &id).await;
    assert_eq!(session["status"], "completed", "{session}");
    let flow = steps(&session);
    let outputs: Vec<&str> = flow.iter().map(|s| s.3.as_str()).collect();
    assert_eq!(
        outputs,
        ["[m-a] go", "[m-b] [m-a] go", "[m-c] [m-b] [m-a] go"]
    );
    let attempts: Vec<i64> = session["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 1], "only the interrupted step ran again");
    let asked: Vec<String> = fake.requests().iter().map(last_message).collect();
    assert_eq!(
        asked,
        ["go", "[m-a] go", "[m-a] go", "[m-b] [m-a] go"],
        "A was not run twice"
    );
    let executions = second.page(&ada.token, "/executions/").await;
    assert_eq!(
        executions.total, 4,
        "the interrupted attempt stays recorded"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn waiting_ends_at_the_configured_limit_with_the_session_still_running(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Held("late".into())], None).await;
    let mut config = fake.config();
    config.collaboration.wait_timeout_secs = 1;
    let (app, ada, ids) = ada_team(pool, config, &[("A", "m-a")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go"}),
    )
    .await;
    assert_eq!(session["status"], "running", "{session}");
    fake.open_gate();
    let done = ended(&app, &ada.token, session["id"].as_str().unwrap()).await;
    assert_eq!(done["final_output"], "late");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_sessions_cost_is_the_sum_of_its_steps_cost_records(pool: PgPool) {
    let fake = FakeLlm::respond(tagged, Some((1000, 500))).await;
    let (app, ada, ids) = ada_team(
        pool.clone(),
        fake.config(),
        &[("A", "gpt-4o"), ("B", "gpt-4o")],
    )
    .await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "parallel", "agent_ids": ids, "messages": ["x", "y"]}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    let mut from_records = 0i64;
    let mut from_steps = 0.0;
    for step in session["results"].as_array().unwrap() {
        let rows = app.cost_rows(step["execution_id"].as_str().unwrap()).await;
        assert_eq!(rows.len(), 1);
        let nanos = rows[0]["cost_nanos"].as_i64().unwrap();
        assert!(nanos > 0, "a priced call");
        assert_eq!(step["cost_usd"].as_f64().unwrap(), nanos as f64 / 1e9);
        assert_eq!(step["tokens"]["total"], 1500);
        from_records += nanos;
        from_steps += step["cost_usd"].as_f64().unwrap();
    }
    assert_eq!(
        session["total_cost_usd"].as_f64().unwrap(),
        from_records as f64 / 1e9
    );
    assert!((from_steps - from_records as f64 / 1e9).abs() < 1e-12);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_step_refused_by_a_budget_fails_the_session_as_budget_exceeded(pool: PgPool) {
    let fake = FakeLlm::respond(tagged, Some((10, 10))).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "gpt-4o"), ("B", "gpt-4o")]).await;
    app.call(
        &ada.token,
        "POST /costs/budget",
        Some(&json!({"daily_limit_usd": 0.000001})),
        200,
    )
    .await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go"}),
    )
    .await;
    assert_eq!(session["status"], "failed", "{session}");
    assert_eq!(session["outcome"], "budget_exceeded");
    assert!(
        session["error"].as_str().unwrap().contains("daily budget"),
        "{session}"
    );
    assert_eq!(session["results"][0]["outcome"], "budget_exceeded");
    assert_eq!(session["results"].as_array().unwrap().len(), 1);
    assert!(fake.requests().is_empty(), "the provider never saw a call");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_sessions_of_a_dead_process_are_resumed_by_a_survivor_from_their_finished_steps(
    pool: PgPool,
) {
    let app = spawn_with(pool.clone(), crate::helpers::config(&[])).await;
    let ada = app.signup("ada@example.com").await;
    let ids = team(&app, &ada.token, "echo", &[("A", "m"), ("B", "m")]).await;
    // What a process that died mid-session leaves: its instance (heartbeat long stopped), the
    // session it drove, and A's finished step.
    let dead = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into platform.instances (id, role, host, pid, started_at, heartbeat_at)
         values ($1, 'agents', 'gone', 1, now() - interval '1 hour', now() - interval '1 hour')",
    )
    .bind(dead)
    .execute(&pool)
    .await
    .unwrap();
    let session = uuid::Uuid::now_v7();
    let request = json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go",
                         "pass_full_history": false, "max_iterations": 1, "context": {}});
    sqlx::query(
        "insert into agents.collaboration_sessions
                (id, tenant_id, pattern, agent_ids, request, status, owner_id, created_by, started_at)
         values ($1, $2::uuid, 'sequential', array[$3::uuid, $4::uuid], $5, 'running', $6, $7::uuid, now())",
    )
    .bind(session)
    .bind(&ada.tenant_id)
    .bind(&ids[0])
    .bind(&ids[1])
    .bind(&request)
    .bind(dead)
    .bind(&ada.user_id)
    .execute(&pool)
    .await
    .unwrap();
    let step = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, status, outcome, user_message, response,
                                        provider, model, owner_id, started_at, completed_at)
         values ($1, $2::uuid, $3::uuid, 'completed', 'completed', 'go', 'from before', 'echo', 'm', $4,
                 now(), now())",
    )
    .bind(step)
    .bind(&ada.tenant_id)
    .bind(&ids[0])
    .bind(dead)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into agents.collaboration_steps (session_id, step_key, attempt, ordinal, agent_id, input, execution_id)
         values ($1, 'pass-1/agent-0', 1, 0, $2::uuid, 'go', $3)",
    )
    .bind(session)
    .bind(&ids[0])
    .bind(step)
    .execute(&pool)
    .await
    .unwrap();

    let resumed = ended(&app, &ada.token, &session.to_string()).await;
    assert_eq!(resumed["status"], "completed", "{resumed}");
    let flow = steps(&resumed);
    assert_eq!(
        flow[0].3, "from before",
        "the finished step was not run again"
    );
    assert_eq!(flow[1].2, "from before", "the next step got its output");
    assert_eq!(resumed["final_output"], "Echo: from before");
    let events = app.event_types(&ada.tenant_id).await;
    assert_eq!(events.last().unwrap(), "collaboration.completed");
}
