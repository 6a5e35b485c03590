//! Executions across processes: a run abandoned by a crashed process is failed on recovery
//! (at once when the process's death is visible, else after its heartbeat stopped), and a
//! cancellation made through one replica stops the run on another.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::fake_llm::{FakeLlm, Reply, aborted};
use crate::helpers::{Api, echo_agent, eventually, spawn, spawn_with, spawn_with_agent, stream};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_execution_left_running_by_a_crashed_process_is_failed_on_recovery(pool: PgPool) {
    let (_first, ada, agent) = spawn_with_agent(pool.clone(), echo_agent("A", "m")).await;
    // What a crashed process leaves behind: running, heartbeat long stopped.
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, status, user_message, provider, model,
                                        started_at, heartbeat_at)
         values ($1, $2::uuid, $3::uuid, 'running', 'lost', 'echo', 'm', now() - interval '10 minutes',
                 now() - interval '10 minutes')",
    )
    .bind(id)
    .bind(&ada.tenant_id)
    .bind(agent["id"].as_str().unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let fresh_id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, status, user_message, provider, model, heartbeat_at)
         values ($1, $2::uuid, $3::uuid, 'running', 'alive elsewhere', 'echo', 'm', now())",
    )
    .bind(fresh_id)
    .bind(&ada.tenant_id)
    .bind(agent["id"].as_str().unwrap())
    .execute(&pool)
    .await
    .unwrap();

    let recovered = spawn(pool).await;
    let path = format!("/executions/{id}");
    let run = recovered
        .failed_eventually(&ada.token, &path, "the abandoned execution is failed")
        .await;
    assert_eq!(run["outcome"], "abandoned");
    assert!(run["error"].as_str().unwrap().contains("stopped"));
    let alive = recovered
        .call(
            &ada.token,
            &format!("GET /executions/{fresh_id}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        alive["status"], "running",
        "a run with a live heartbeat is left alone"
    );
    let events = recovered.events(&ada.tenant_id).await;
    assert!(
        events
            .iter()
            .any(|(t, p)| t == "agent.execution.failed" && p["id"] == id.to_string())
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_executions_of_a_killed_process_are_failed_as_soon_as_its_death_is_visible(
    pool: PgPool,
) {
    let fake = FakeLlm::start(vec![Reply::Hang("thinking".into())], None).await;
    let mut cfg = fake.config();
    // Far beyond the test's deadline: only the dead-instance check can meet it.
    cfg.executions.abandon_after_secs = 3600;
    let survivor = spawn_with(pool.clone(), cfg.clone()).await;
    let (ada, agent) = survivor
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;

    // The doomed process: its own runtime and connection pool (connections belong to the
    // runtime that opened them).
    let (kill, killed) = std::sync::mpsc::channel::<()>();
    let (started, base) = tokio::sync::oneshot::channel::<String>();
    let options = pool.connect_options();
    let doomed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let app = runtime.block_on(async move {
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .connect_with((*options).clone())
                .await
                .unwrap();
            spawn_with(pool, cfg).await
        });
        started.send(app.api.base.clone()).unwrap();
        killed.recv().unwrap();
        // `kill -9`: tasks die where they are, connections close, nothing is recorded.
        runtime.shutdown_background();
        app.state.instance_id
    });
    let doomed_api = Api::new(base.await.unwrap());
    let (resp, id) = stream(&doomed_api, &ada.token, agent["id"].as_str().unwrap(), "x").await;
    fake.wait_for_request().await;
    assert!(
        eventually(|| async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from platform.instances where role = 'agents'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
                == 2
        })
        .await,
        "both processes registered"
    );
    kill.send(()).unwrap();
    let doomed_id = tokio::task::spawn_blocking(move || doomed.join().unwrap())
        .await
        .unwrap();
    drop(resp);

    let path = format!("/executions/{id}");
    let run = survivor
        .failed_eventually(
            &ada.token,
            &path,
            "the killed process's execution is failed within seconds",
        )
        .await;
    assert_eq!(run["outcome"], "abandoned", "{run}");
    let events = survivor.events(&ada.tenant_id).await;
    assert!(
        events
            .iter()
            .any(|(t, p)| t == "agent.execution.failed" && p["id"] == id.as_str())
    );
    let left: i64 = sqlx::query_scalar("select count(*) from platform.instances where id = $1")
        .bind(doomed_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the dead instance is deregistered");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_cancellation_through_one_replica_stops_the_run_on_another(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Hang("thinking".into())], None).await;
    let cfg = fake.config();
    let one = spawn_with(pool.clone(), cfg.clone()).await;
    let two = spawn_with(pool, cfg).await;
    let (ada, agent) = one
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let (resp, id) = stream(&one, &ada.token, agent["id"].as_str().unwrap(), "x").await;
    fake.wait_for_request().await;
    let closed = fake.closed();
    let cancelled = two.cancel(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(cancelled["outcome"], "cancelled");
    aborted(&closed, "replica one aborted its upstream call").await;
    let body = resp.text().await.unwrap();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    assert!(one.state.runs.get(id.parse().unwrap()).is_none());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn at_shutdown_running_executions_are_recorded_as_interrupted(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Hang("half an ans".into())], None).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let (resp, id) = stream(&app, &ada.token, agent["id"].as_str().unwrap(), "x").await;
    fake.wait_for_request().await;
    let closed = fake.closed();
    assert_eq!(
        app.state.runs.interrupt_all(Duration::from_secs(10)).await,
        0,
        "every run recorded its end"
    );
    aborted(&closed, "upstream aborted").await;
    let run = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "interrupted");
    assert!(run["error"].as_str().unwrap().contains("shut down"));
    let body = resp.text().await.unwrap();
    assert!(
        body.trim_end().ends_with("data: [DONE]"),
        "the stream was closed cleanly: {body}"
    );
}
