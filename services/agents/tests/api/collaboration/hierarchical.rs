//! The hierarchical pattern: plan → delegate (by each strategy) → synthesise, and the
//! malformed plan retried once, then failed.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::{ada_team, collaborate, steps, team};
use crate::fake_llm::{FakeLlm, Reply, last_message};
use crate::helpers::{Session, TestApp, spawn_with};

const PLAN: &str = r#"Sure:
```json
{"subtasks": [{"description": "Find facts on the web about Rust"},
              {"description": "Draft summaries of it"},
              {"description": "zzz"}]}
```"#;

/// Runs task `T` with a coordinator (m-boss) and one worker (m-w) on `fake`: the app, ada and
/// the ended session.
async fn boss_and_worker(pool: PgPool, fake: &FakeLlm) -> (TestApp, Session, Value) {
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("Boss", "m-boss"), ("W", "m-w")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "hierarchical", "coordinator_id": ids[0], "worker_ids": [ids[1]], "task": "T"}),
    )
    .await;
    (app, ada, session)
}

/// The coordinator plans (then synthesises); workers answer `[model] <first line>`.
fn coordinator_and_workers(_: usize, body: &Value) -> Reply {
    let asked = last_message(body);
    if asked.starts_with("You coordinate") {
        Reply::Text(PLAN.into())
    } else if asked.starts_with("Task:") {
        Reply::Text(format!("FINAL from {} chars", asked.len()))
    } else {
        let first = asked.lines().next().unwrap_or_default();
        Reply::Text(format!("[{}] {first}", body["model"].as_str().unwrap()))
    }
}

async fn setup(pool: PgPool) -> (FakeLlm, TestApp, Session, Vec<String>) {
    let fake = FakeLlm::respond(coordinator_and_workers, None).await;
    let app = spawn_with(pool, fake.config()).await;
    let ada = app.signup("ada@example.com").await;
    let boss = team(&app, &ada.token, "openai", &[("Boss", "m-boss")]).await;
    let writer = app
        .agent(
            &ada.token,
            json!({"name": "Writer", "model": "m-writer", "provider": "openai",
                                  "description": "drafts prose and summaries"}),
        )
        .await;
    let researcher = app
        .agent(
            &ada.token,
            json!({"name": "Researcher", "model": "m-researcher", "provider": "openai",
                                  "description": "finds facts on the web"}),
        )
        .await;
    let ids = vec![
        boss[0].clone(),
        writer["id"].as_str().unwrap().to_owned(),
        researcher["id"].as_str().unwrap().to_owned(),
    ];
    (fake, app, ada, ids)
}

/// Runs a hierarchical session with `strategy`; returns it and the agent of each subtask.
async fn delegate(
    app: &TestApp,
    ada: &Session,
    ids: &[String],
    strategy: &str,
) -> (Value, Vec<String>) {
    let session = collaborate(
        app,
        &ada.token,
        json!({"pattern": "hierarchical", "coordinator_id": ids[0], "worker_ids": [ids[1], ids[2]],
               "task": "Explain Rust", "config": {"delegation_strategy": strategy}}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    let flow = steps(&session);
    let keys: Vec<&str> = flow.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(keys, ["plan", "task-0", "task-1", "task-2", "synthesis"]);
    assert_eq!(flow[0].1, ids[0], "the coordinator plans");
    assert!(
        flow[0].2.contains(&ids[1]) && flow[0].2.contains("finds facts on the web"),
        "the plan prompt lists the workers"
    );
    assert_eq!(flow[4].1, ids[0], "the coordinator synthesises");
    for (subtask, output) in flow[1..4].iter().map(|s| (&s.2, &s.3)) {
        assert!(
            subtask.ends_with("(This is one part of a larger task: Explain Rust)"),
            "{subtask}"
        );
        assert!(
            flow[4].2.contains(output.as_str()),
            "the synthesis sees every result"
        );
    }
    assert_eq!(session["final_output"], flow[4].3);
    let assigned = flow[1..4].iter().map(|s| s.1.clone()).collect();
    (session, assigned)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn round_robin_gives_subtasks_to_the_workers_in_turn(pool: PgPool) {
    let (_fake, app, ada, ids) = setup(pool).await;
    let (session, assigned) = delegate(&app, &ada, &ids, "round_robin").await;
    assert_eq!(assigned, [ids[1].clone(), ids[2].clone(), ids[1].clone()]);
    assert_eq!(
        steps(&session)[1].3,
        "[m-writer] Find facts on the web about Rust",
        "the worker is given its subtask"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn capability_based_gives_each_subtask_to_the_worker_that_describes_it(pool: PgPool) {
    let (_fake, app, ada, ids) = setup(pool).await;
    let (_, assigned) = delegate(&app, &ada, &ids, "capability_based").await;
    // Facts/web → Researcher; summaries → Writer; no shared word → round robin (task 2 → worker 0).
    assert_eq!(assigned, [ids[2].clone(), ids[1].clone(), ids[1].clone()]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn load_balanced_gives_each_subtask_to_the_least_busy_worker(pool: PgPool) {
    let (_fake, app, ada, ids) = setup(pool.clone()).await;
    // The writer is busy with an execution elsewhere.
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, status, user_message, provider, model, heartbeat_at)
         values ($1, $2::uuid, $3::uuid, 'running', 'busy', 'openai', 'm-writer', now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&ada.tenant_id)
    .bind(&ids[1])
    .execute(&pool)
    .await
    .unwrap();
    let (_, assigned) = delegate(&app, &ada, &ids, "load_balanced").await;
    assert_eq!(assigned, [ids[2].clone(), ids[1].clone(), ids[2].clone()]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_malformed_plan_is_asked_for_again_with_the_error(pool: PgPool) {
    let fake = FakeLlm::respond(
        |i, body| match i {
            0 => Reply::Text("I'll just do it myself.".into()),
            _ => coordinator_and_workers(i, body),
        },
        None,
    )
    .await;
    let (_, _, session) = boss_and_worker(pool, &fake).await;
    assert_eq!(session["status"], "completed", "{session}");
    let flow = steps(&session);
    assert_eq!(flow[0].0, "plan");
    assert_eq!(flow[1].0, "plan-retry");
    assert!(
        flow[1]
            .2
            .contains("Your previous plan was rejected: the plan is not JSON"),
        "{}",
        flow[1].2
    );
    assert_eq!(flow.len(), 6, "plan, retry, three subtasks, synthesis");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_plan_malformed_twice_fails_the_session_with_a_clear_error(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Text(r#"{"subtasks": []}"#.into())], None).await;
    let (app, ada, session) = boss_and_worker(pool, &fake).await;
    assert_eq!(session["status"], "failed", "{session}");
    assert_eq!(session["outcome"], "failed");
    let error = session["error"].as_str().unwrap();
    assert!(
        error.contains("malformed twice") && error.contains("between 1 and 20 subtasks"),
        "{error}"
    );
    assert_eq!(steps(&session).len(), 2, "no worker ran");
    assert_eq!(fake.requests().len(), 2);
    let events = app.event_types(&ada.tenant_id).await;
    assert_eq!(events.last().unwrap(), "collaboration.failed");
}
