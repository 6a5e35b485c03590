//! `run` streaming (and not), `executions` list/get/follow/cancel.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::helpers::{Cli, helper_agent, platform, platform_with};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn run_streams_the_answer_in_order_and_records_the_execution(pool: PgPool) {
    let platform = platform(pool).await;
    platform.ada().await;
    let cli = Cli::new(&platform);
    cli.login("ada@example.com").await;
    let agent = helper_agent(&cli).await;

    let run = cli.run(&["run", "helper", "one two three four"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "Echo: one two three four\n");
    assert!(run.stderr.contains("completed"), "{run:#?}");

    let executions = cli.json(&["executions", "list", "--agent", "helper"]).await;
    let execution = &executions[0];
    assert_eq!(execution["stream"], true);
    assert_eq!(execution["status"], "completed");
    assert_eq!(execution["agent_id"], agent.as_str());
    let id = execution["id"].as_str().unwrap();
    assert!(run.stderr.contains(id), "the summary names the execution");

    // Replayed from the start after it finished.
    let follow = cli.run(&["executions", "follow", id]).await.ok();
    assert_eq!(follow, "Echo: one two three four\n");
    assert_eq!(cli.json(&["executions", "get", id]).await, *execution);

    // For scripts: the finished execution as the API shows it.
    let json = cli
        .json(&["run", &agent, "hi", "--context", r#"{"k": 1}"#])
        .await;
    assert_eq!(
        (&json["response"], &json["context"]),
        (&json!("Echo: hi"), &json!({"k": 1}))
    );
    let waited = cli
        .run(&["run", "helper", "no stream", "--no-stream"])
        .await
        .ok();
    assert_eq!(waited, "Echo: no stream\n");
    let failed = cli
        .json(&["executions", "list", "--status", "failed"])
        .await;
    assert_eq!(failed, json!([]));
    cli.run(&["executions", "list", "--status", "weird"])
        .await
        .fails(1, "HTTP 422");
    cli.run(&["run", "helper", "x", "--context", "[1]"])
        .await
        .fails(2, "JSON object");
    cli.run(&["executions", "cancel", id])
        .await
        .fails(1, "already finished");
}

/// An OpenAI-compatible provider that streams `thinking ` and then nothing until the client
/// goes away; `asked` is notified when a request arrives.
async fn hanging_provider(asked: Arc<Notify>) -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let asked = asked.clone();
            async move {
                asked.notify_one();
                let chunk = json!({"id": "c", "object": "chat.completion.chunk", "model": "slow",
                    "choices": [{"index": 0, "delta": {"content": "thinking "}, "finish_reason": null}]});
                let head = futures::stream::iter([Ok::<_, std::io::Error>(format!("data: {chunk}\n\n"))]);
                (
                    [("content-type", "text/event-stream")],
                    Body::from_stream(head.chain(futures::stream::pending())),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cancelling_a_running_execution_ends_its_stream_with_exit_code_1(pool: PgPool) {
    let asked = Arc::new(Notify::new());
    let base = hanging_provider(asked.clone()).await;
    let mut providers = temponest_llm::Providers::defaults();
    providers.insert(
        "slow".into(),
        temponest_llm::ProviderConfig {
            kind: temponest_llm::ProviderKind::OpenAi,
            base_url: base,
            api_key: Some("k".into()),
            max_retries: 0,
            ..temponest_llm::ProviderConfig::default()
        },
    );
    let config = temponest_agents::AgentsConfig {
        providers,
        ..temponest_agents::AgentsConfig::default()
    };
    let platform = platform_with(pool, config).await;
    platform.ada().await;
    let cli = Cli::new(&platform);
    cli.login("ada@example.com").await;
    cli.json(&[
        "agents",
        "create",
        "--name",
        "slow",
        "--provider",
        "slow",
        "--model",
        "m",
    ])
    .await;

    let running = cli
        .command(&["run", "slow", "take your time"])
        .spawn()
        .unwrap();
    asked.notified().await;
    // Each probe is a real invocation of the CLI (real I/O), bounded by a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let id = loop {
        let list = cli
            .json(&["executions", "list", "--status", "running"])
            .await;
        if let Some(found) = list[0]["id"].as_str() {
            break found.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the execution never ran"
        );
    };
    let cancelled = cli.json(&["executions", "cancel", &id]).await;
    assert_eq!(
        (&cancelled["status"], &cancelled["outcome"]),
        (&json!("failed"), &json!("cancelled"))
    );

    let output = running.wait_with_output().await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("thinking"), "{stdout}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let execution: Value = cli.json(&["executions", "get", &id]).await;
    assert_eq!(execution["outcome"], "cancelled");
}
