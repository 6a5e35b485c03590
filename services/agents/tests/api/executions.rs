//! Synchronous executions: the status machine, the tool loop, provider failures as failed
//! executions, cost records and events.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use temponest_llm::ProviderKind;

use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{
    closed_port, config, echo_agent, expect_error, expect_json, provider, spawn_with,
    spawn_with_agent,
};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_echo_execution_completes_and_is_recorded_with_its_events_and_cost(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("Parrot", "echo-1")).await;
    let agent_id = agent["id"].as_str().unwrap();
    let run = app.execute(&ada.token, agent_id, "hello there").await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["outcome"], "completed");
    assert_eq!(run["response"], "Echo: hello there");
    assert_eq!(run["agent_id"], agent_id);
    assert_eq!(run["tenant_id"], ada.tenant_id.as_str());
    assert_eq!(run["user_message"], "hello there");
    assert_eq!(run["context"], json!({}));
    assert_eq!(run["tools_used"], json!([]));
    assert_eq!(run["error"], json!(null));
    assert_eq!(run["tokens_used"]["prompt"], 2);
    assert_eq!(run["tokens_used"]["completion"], 3);
    assert_eq!(run["tokens_used"]["total"], 5);
    assert_eq!(run["cost_usd"], 0.0);
    assert_eq!(
        run["unpriced"], false,
        "echo is self-hosted: free, not unpriced"
    );
    assert!(run["execution_time_seconds"].as_f64().unwrap() >= 0.0);
    assert!(run["completed_at"].is_string());
    let id = run["id"].as_str().unwrap();

    let fetched = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(fetched, run);

    let costs = app.cost_rows(id).await;
    assert_eq!(costs.len(), 1);
    assert_eq!(costs[0]["status"], "success");
    assert_eq!(costs[0]["provider"], "echo");
    assert_eq!(costs[0]["prompt_tokens"], 2);
    assert_eq!(costs[0]["unpriced"], false);
    assert_eq!(costs[0]["streamed"], false);
    assert_eq!(costs[0]["price_source"], "self_hosted");

    let types: Vec<String> = app.event_types(&ada.tenant_id).await;
    assert_eq!(
        types,
        [
            "agent.created",
            "agent.execution.started",
            "agent.execution.completed"
        ]
    );
    let completed = app.events(&ada.tenant_id).await.pop().unwrap().1;
    assert_eq!(completed["id"], id);
    assert_eq!(completed["response"], "Echo: hello there");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn executions_are_listed_newest_first_and_filtered_by_agent_and_status(pool: PgPool) {
    let (app, ada, a) = spawn_with_agent(pool, echo_agent("A", "m")).await;
    let b = app.agent(&ada.token, echo_agent("B", "m")).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let first = app.execute(&ada.token, a, "one").await;
    let second = app.execute(&ada.token, a, "two").await;
    app.execute(&ada.token, b, "three").await;
    let list = app
        .page(&ada.token, &format!("/executions/?agent_id={a}"))
        .await;
    assert_eq!(list.total, 2);
    assert_eq!(list.items[0]["id"], second["id"]);
    assert_eq!(list.items[1]["id"], first["id"]);
    let completed = app
        .page(&ada.token, "/executions?status=completed&limit=1")
        .await;
    assert_eq!(completed.total, 3);
    assert_eq!(completed.items.len(), 1);
    let failed = app.page(&ada.token, "/executions/?status=failed").await;
    assert_eq!(failed.total, 0);
    // `cancelled` is an outcome, not a status: the 422 names the statuses there are.
    app.expect_refusals(
        &ada.token,
        &[
            (
                "GET /executions/?status=cancelled",
                None,
                422,
                "status: must be one of pending, running, completed, failed",
            ),
            ("GET /executions/?agent_id=nope", None, 422, "agent_id"),
            ("GET /executions/not-a-uuid", None, 404, "not found"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn bad_execute_requests_are_rejected_before_anything_runs(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("A", "m")).await;
    let path = format!("/agents/{}/execute", agent["id"].as_str().unwrap());
    app.refused_bodies(
        &ada.token,
        &format!("POST {path}"),
        422,
        &[
            (json!({"user_message": "  "}), ""),
            (json!({}), ""),
            (json!({"user_message": "x", "context": "text"}), ""),
        ],
    )
    .await;
    let run = json!({"user_message": "x"});
    app.refused(&ada.token, "POST /agents/nope/execute", Some(&run), 404, "")
        .await;
    let count: i64 = sqlx::query_scalar("select count(*) from agents.executions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_tool_loop_calls_tools_feeds_results_back_and_records_every_call(pool: PgPool) {
    let fake = FakeLlm::start(
        vec![
            Reply::Tool("current_time".into(), json!({})),
            Reply::Text("It is late.".into()),
        ],
        Some((100, 20)),
    )
    .await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app.ada_with_agent(json!({"name": "Clock", "model": "gpt-4o", "provider": "openai", "tools": ["current_time"],
                   "system_prompt": "Be brief."})).await;
    let run = app
        .call(
            &ada.token,
            &format!("POST /agents/{}/execute", agent["id"].as_str().unwrap()),
            Some(&json!({"user_message": "what time is it?", "context": {"user": "ada"}})),
            200,
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["response"], "It is late.");
    assert_eq!(run["tools_used"], json!(["current_time"]));
    assert_eq!(run["tool_calls"][0]["tool"], "current_time");
    assert!(
        run["tool_calls"][0]["result"]
            .as_str()
            .unwrap()
            .contains("utc")
    );
    assert_eq!(run["tool_calls"][0]["iteration"], 1);
    assert_eq!(run["tokens_used"]["prompt"], 200);
    assert_eq!(run["tokens_used"]["completion"], 40);
    // gpt-4o: $2.50 / $10 per Mtok → 2 × (100 × 2.5 + 20 × 10) / 1e6 = $0.0009
    assert!(
        (run["cost_usd"].as_f64().unwrap() - 0.0009).abs() < 1e-12,
        "{}",
        run["cost_usd"]
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["model"], "gpt-4o");
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "current_time");
    assert_eq!(requests[0]["messages"][0]["role"], "system");
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("Be brief.") && system.contains(r#"{"user":"ada"}"#),
        "{system}"
    );
    let followup = requests[1]["messages"].as_array().unwrap();
    assert_eq!(
        followup.len(),
        4,
        "system, user, assistant tool call, tool result"
    );
    assert_eq!(
        followup[2]["tool_calls"][0]["function"]["name"],
        "current_time"
    );
    assert_eq!(followup[3]["role"], "tool");
    assert_eq!(
        followup[3]["tool_call_id"],
        followup[2]["tool_calls"][0]["id"]
    );

    let costs = app.cost_rows(run["id"].as_str().unwrap()).await;
    assert_eq!(costs.len(), 2, "one cost record per model call");
    assert!(costs.iter().all(|c| c["status"] == "success"
        && c["cost_nanos"] == 450_000
        && c["price_source"] == "table:2026-11-01"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_tool_loop_stops_at_max_iterations(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Tool("current_time".into(), json!({}))], None).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(
            json!({"name": "Loop", "model": "gpt-4o-mini", "provider": "openai",
                                    "tools": ["current_time"], "max_iterations": 3}),
        )
        .await;
    let run = app.run(&ada.token, &agent, "loop forever").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "max_iterations");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("max_iterations (3)")
    );
    assert_eq!(
        run["tools_used"],
        json!(["current_time", "current_time", "current_time"])
    );
    assert_eq!(
        fake.requests().len(),
        3,
        "exactly max_iterations model calls"
    );
    let costs = app.cost_rows(run["id"].as_str().unwrap()).await;
    assert_eq!(costs.len(), 3);
    assert!(
        costs.iter().all(|c| c["usage_estimated"] == true),
        "no usage reported: estimated, and flagged"
    );
    let types: Vec<String> = app.event_types(&ada.tenant_id).await;
    assert_eq!(types.last().unwrap(), "agent.execution.failed");
}

/// Two OpenAI providers: `local`, where nothing listens, and `openai`, without an API key.
pub(crate) async fn unreachable_and_unconfigured() -> temponest_agents::AgentsConfig {
    let port = closed_port().await;
    config(&[
        (
            "local",
            provider(
                ProviderKind::OpenAi,
                &format!("http://127.0.0.1:{port}/v1"),
                Some("k"),
            ),
        ),
        (
            "openai",
            provider(ProviderKind::OpenAi, "https://api.openai.com/v1", None),
        ),
    ])
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unreachable_and_unconfigured_providers_give_failed_executions_not_errors(pool: PgPool) {
    let app = spawn_with(pool, unreachable_and_unconfigured().await).await;
    let (ada, down) = app
        .ada_with_agent(json!({"name": "Down", "model": "m", "provider": "local"}))
        .await;
    let run = app.run(&ada.token, &down, "hi").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("local"), "names the provider: {error}");
    assert!(!error.contains("k\""), "no secrets");

    let keyless = app
        .agent(
            &ada.token,
            json!({"name": "Keyless", "model": "gpt-4o", "provider": "openai"}),
        )
        .await;
    let run = app.run(&ada.token, &keyless, "hi").await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"].as_str().unwrap().contains("not configured"),
        "{run}"
    );
    assert_eq!(
        app.cost_rows(run["id"].as_str().unwrap()).await.len(),
        0,
        "no call was made"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unknown_models_are_flagged_unpriced_until_the_tenant_prices_them(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Text("ok".into())], Some((1_000, 1_000))).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Custom", "model": "my-finetune", "provider": "openai"}))
        .await;
    let run = app.run(&ada.token, &agent, "hi").await;
    assert_eq!(run["unpriced"], true);
    assert_eq!(run["cost_usd"], 0.0);
    assert_eq!(
        app.cost_rows(run["id"].as_str().unwrap()).await[0]["unpriced"],
        true
    );

    expect_json(
        app.http
            .put(app.url("/costs/prices"))
            .bearer_auth(&ada.token)
            .json(&json!({"model": "my-finetune", "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 3.0}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let prices = app.fetch(&ada.token, "/costs/prices").await;
    assert_eq!(prices["version"], "2026-11-01");
    assert_eq!(prices["overrides"][0]["model"], "my-finetune");
    let run = app.run(&ada.token, &agent, "hi").await;
    assert_eq!(run["unpriced"], false);
    assert!(
        (run["cost_usd"].as_f64().unwrap() - 0.004).abs() < 1e-12,
        "{}",
        run["cost_usd"]
    );
    assert_eq!(
        app.cost_rows(run["id"].as_str().unwrap()).await[0]["price_source"],
        "tenant_override"
    );
    expect_error(
        app.http
            .put(app.url("/costs/prices"))
            .bearer_auth(&ada.token)
            .json(&json!({"model": "x", "input_usd_per_mtok": -1.0, "output_usd_per_mtok": 1.0}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "",
    )
    .await;
}
