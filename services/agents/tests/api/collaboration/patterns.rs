//! Each pattern's data flow, exactly.

use serde_json::json;
use sqlx::PgPool;

use super::{ada_team, collaborate, ended, steps, tagged};
use crate::fake_llm::{FakeLlm, Reply, last_message};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_sequential_session_passes_each_output_to_the_next_agent_in_order(pool: PgPool) {
    let fake = FakeLlm::respond(tagged, None).await;
    let (app, ada, ids) = ada_team(
        pool,
        fake.config(),
        &[("A", "m-a"), ("B", "m-b"), ("C", "m-c")],
    )
    .await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go",
               "config": {"pass_full_history": false}}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["outcome"], "completed");
    assert_eq!(session["pattern"], "sequential");
    assert_eq!(session["agent_ids"], json!(ids));
    assert_eq!(session["tenant_id"], ada.tenant_id.as_str());
    let flow = steps(&session);
    let expected = [
        ("pass-1/agent-0", &ids[0], "go", "[m-a] go"),
        ("pass-1/agent-1", &ids[1], "[m-a] go", "[m-b] [m-a] go"),
        (
            "pass-1/agent-2",
            &ids[2],
            "[m-b] [m-a] go",
            "[m-c] [m-b] [m-a] go",
        ),
    ];
    assert_eq!(flow.len(), 3);
    for ((key, agent, input, output), (k, a, i, o)) in flow.iter().zip(expected) {
        assert_eq!(
            (key.as_str(), agent, input.as_str(), output.as_str()),
            (k, a, i, o)
        );
    }
    assert_eq!(session["final_output"], "[m-c] [m-b] [m-a] go");
    let asked: Vec<String> = fake.requests().iter().map(last_message).collect();
    assert_eq!(
        asked,
        ["go", "[m-a] go", "[m-b] [m-a] go"],
        "one call per step, in order"
    );
    // Every step is a real execution, visible in /executions/.
    for step in session["results"].as_array().unwrap() {
        let execution = app
            .fetch(
                &ada.token,
                &format!("/executions/{}", step["execution_id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(execution["status"], "completed");
        assert_eq!(execution["response"], step["output"]);
        assert_eq!(execution["agent_id"], step["agent_id"]);
    }
    let listed = app.page(&ada.token, "/executions/").await;
    assert_eq!(listed.total, 3);
    let events = app.events(&ada.tenant_id).await;
    let (kind, payload) = events.last().unwrap();
    assert_eq!(kind, "collaboration.completed");
    assert_eq!(payload["id"], session["id"]);
    assert_eq!(payload["final_output"], session["final_output"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn with_full_history_each_agent_gets_the_whole_transcript_for_every_pass(pool: PgPool) {
    let fake = FakeLlm::respond(|i, _| Reply::Text(format!("out{i}")), None).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "m-a"), ("B", "m-b")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "sequential", "agent_ids": ids, "initial_message": "go",
               "config": {"pass_full_history": true, "max_iterations": 2}}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    let flow = steps(&session);
    let keys: Vec<&str> = flow.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        keys,
        [
            "pass-1/agent-0",
            "pass-1/agent-1",
            "pass-2/agent-0",
            "pass-2/agent-1"
        ]
    );
    assert_eq!(flow[0].2, "go");
    assert_eq!(flow[1].2, "go\n\n--- A ---\nout0");
    assert_eq!(
        flow[3].2,
        "go\n\n--- A ---\nout0\n\n--- B ---\nout1\n\n--- A ---\nout2"
    );
    assert_eq!(session["final_output"], "out3");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn parallel_steps_overlap_under_the_configured_limit_and_are_aggregated(pool: PgPool) {
    let fake = FakeLlm::respond(
        |_, body| {
            Reply::Held(format!(
                "[{}] {}",
                body["model"].as_str().unwrap(),
                last_message(body)
            ))
        },
        None,
    )
    .await;
    let mut config = fake.config();
    config.collaboration.max_concurrent_steps = 2;
    let (app, ada, ids) = ada_team(pool, config, &[("A", "m-a"), ("B", "m-b"), ("C", "m-c")]).await;
    let started = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "parallel", "agent_ids": ids, "messages": ["x", "y", "z"], "wait": false}),
    )
    .await;
    assert!(
        started["status"] == "pending" || started["status"] == "running",
        "{started}"
    );
    // Two calls are in flight at once: the steps overlap (a sequential run would never get here).
    fake.wait_for_in_flight(2).await;
    let id = started["id"].as_str().unwrap();
    let running = app
        .fetch(&ada.token, &format!("/collaboration/sessions/{id}"))
        .await;
    assert_eq!(running["status"], "running");
    assert_eq!(
        running["results"].as_array().unwrap().len(),
        2,
        "the started steps show"
    );
    fake.open_gate();
    let session = ended(&app, &ada.token, id).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(fake.max_in_flight(), 2, "never more than the limit at once");
    let flow = steps(&session);
    let outputs: Vec<&str> = flow.iter().map(|s| s.3.as_str()).collect();
    assert_eq!(outputs, ["[m-a] x", "[m-b] y", "[m-c] z"]);
    assert_eq!(flow[2].0, "branch-2");
    assert_eq!(
        session["final_output"],
        "--- A ---\n[m-a] x\n\n--- B ---\n[m-b] y\n\n--- C ---\n[m-c] z"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_iterative_session_stops_when_successive_outputs_converge(pool: PgPool) {
    let script = vec![
        Reply::Text("alpha beta gamma".into()),
        Reply::Text("alpha beta delta".into()),
        Reply::Text("Alpha, beta; delta.".into()),
        Reply::Text("never asked".into()),
    ];
    let fake = FakeLlm::start(script, None).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "m-a"), ("B", "m-b")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "iterative", "agent_ids": ids, "initial_message": "q",
               "config": {"max_iterations": 5, "convergence_threshold": 0.9}}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["outcome"], "converged");
    let flow = steps(&session);
    let keys: Vec<&str> = flow.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        keys,
        ["round-1/agent-0", "round-1/agent-1", "round-2/agent-0"]
    );
    assert_eq!(flow[0].2, "q");
    assert!(
        flow[1].2.contains("Current answer:\nalpha beta gamma"),
        "{}",
        flow[1].2
    );
    assert_eq!(flow[2].1, ids[0], "agents take turns");
    assert_eq!(session["final_output"], "Alpha, beta; delta.");
    assert_eq!(fake.requests().len(), 3);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_iterative_session_that_never_converges_stops_at_max_iterations(pool: PgPool) {
    let fake = FakeLlm::respond(|i, _| Reply::Text(format!("draft{i} word{i}")), None).await;
    let (app, ada, ids) = ada_team(pool, fake.config(), &[("A", "m-a")]).await;
    let session = collaborate(
        &app,
        &ada.token,
        json!({"pattern": "iterative", "agent_ids": ids, "initial_message": "q",
               "config": {"max_iterations": 2}}),
    )
    .await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["outcome"], "max_iterations");
    assert_eq!(steps(&session).len(), 2);
    assert_eq!(session["final_output"], "draft1 word1");
}
