//! Refused requests: a clear 4xx naming the problem, and nothing started.

use serde_json::json;
use sqlx::PgPool;

use super::team;
use crate::helpers::{spawn, spawn_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn bad_requests_are_refused_with_a_clear_detail_and_start_nothing(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.signup("ada@example.com").await;
    let ids = team(&app, &ada.token, "echo", &[("A", "m"), ("B", "m")]).await;
    let (a, b) = (&ids[0], &ids[1]);
    let unknown = uuid::Uuid::now_v7().to_string();
    let post = "POST /collaboration/execute";
    let refusals = [
        (
            json!({"pattern": "swarm", "agent_ids": [a]}),
            422,
            "pattern: must be one of sequential, parallel, iterative, hierarchical",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": [], "initial_message": "x"}),
            422,
            "agent_ids: must name at least one agent",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": [a], "initial_message": " "}),
            422,
            "initial_message: must not be empty",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": [a], "initial_message": "x", "config": {"max_iterations": 0}}),
            422,
            "config.max_iterations: must be between 1 and 10",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": ["nope"], "initial_message": "x"}),
            422,
            "agent_ids",
        ),
        (
            json!({"pattern": "parallel", "agent_ids": [a, b], "messages": ["x"]}),
            422,
            "messages: must have one message per agent (2 agents, 1 messages)",
        ),
        (
            json!({"pattern": "parallel", "agent_ids": [a], "messages": [""]}),
            422,
            "messages[0]: must not be empty",
        ),
        (
            json!({"pattern": "iterative", "agent_ids": [a], "initial_message": "x", "config": {"max_iterations": 21}}),
            422,
            "between 1 and 20",
        ),
        (
            json!({"pattern": "iterative", "agent_ids": [a], "initial_message": "x", "config": {"convergence_threshold": 1.5}}),
            422,
            "config.convergence_threshold",
        ),
        (
            json!({"pattern": "hierarchical", "coordinator_id": a, "worker_ids": [a, b], "task": "t"}),
            422,
            "worker_ids: must not include the coordinator",
        ),
        (
            json!({"pattern": "hierarchical", "coordinator_id": a, "worker_ids": [b, b], "task": "t"}),
            422,
            "must not repeat a worker",
        ),
        (
            json!({"pattern": "hierarchical", "worker_ids": [b], "task": "t"}),
            422,
            "coordinator_id: is required",
        ),
        (
            json!({"pattern": "hierarchical", "coordinator_id": a, "worker_ids": [], "task": "t"}),
            422,
            "worker_ids: must name at least one agent",
        ),
        (
            json!({"pattern": "hierarchical", "coordinator_id": a, "worker_ids": [b], "task": "t", "config": {"delegation_strategy": "random"}}),
            422,
            "round_robin, capability_based, load_balanced",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": [a], "initial_message": "x", "context": [1]}),
            422,
            "context: must be a JSON object",
        ),
        (
            json!({"pattern": "sequential", "agent_ids": [a, unknown], "initial_message": "x"}),
            404,
            "agent not found",
        ),
        (
            json!({"pattern": "hierarchical", "coordinator_id": unknown, "worker_ids": [b], "task": "t"}),
            404,
            "agent not found",
        ),
    ];
    for (body, status, needle) in refusals {
        app.expect_refusals(&ada.token, &[(post, Some(body), status, needle)])
            .await;
    }
    let too_many: Vec<&String> = std::iter::repeat_n(a, 21).collect();
    app.expect_refusals(
        &ada.token,
        &[(
            post,
            Some(json!({"pattern": "sequential", "agent_ids": too_many, "initial_message": "x"})),
            422,
            "at most 20 agents",
        )],
    )
    .await;
    let sessions: i64 = sqlx::query_scalar("select count(*) from agents.collaboration_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let executions: i64 = sqlx::query_scalar("select count(*) from agents.executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((sessions, executions), (0, 0), "nothing was started");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_viewer_can_read_sessions_but_not_start_them(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let ids = team(&app, &ada.token, "echo", &[("A", "m")]).await;
    let viewer: &str = &app.viewer(&ada.token, "vera@example.com").await;
    app.expect_refusals(
        viewer,
        &[(
            "POST /collaboration/execute",
            Some(json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "x"})),
            403,
            "agents:execute",
        )],
    )
    .await;
    assert_eq!(app.page(viewer, "/collaboration/sessions/").await.total, 0);
}
