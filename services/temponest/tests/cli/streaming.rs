//! `run` streaming (and not), `executions` list/get/follow/cancel.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_test_client::serve;
use tokio::sync::Notify;

use crate::helpers::{Cli, helper_agent, platform, platform_with, platform_with_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn run_streams_the_answer_in_order_and_records_the_execution(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
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
    cli.fails(&["executions", "list", "--status", "weird"], 1, "HTTP 422")
        .await;
    cli.fails(
        &["run", "helper", "x", "--context", "[1]"],
        2,
        "JSON object",
    )
    .await;
    cli.fails(&["executions", "cancel", id], 1, "already finished")
        .await;
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
    format!("http://{}/v1", serve(app).await)
}

/// The platform with a `slow` provider that never finishes, an agent `slow` on it, and a
/// logged-in user; `asked` is notified when the provider gets a request.
async fn slow_platform(pool: PgPool, asked: Arc<Notify>) -> (crate::helpers::Platform, Cli) {
    let base = hanging_provider(asked).await;
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
    let (_, cli) = platform.ada_cli().await;
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
    (platform, cli)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cancelling_a_running_execution_ends_its_stream_with_exit_code_1(pool: PgPool) {
    let asked = Arc::new(Notify::new());
    let (_platform, cli) = slow_platform(pool, asked.clone()).await;
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

/// A TCP proxy to `upstream` that cuts its first connection right after the first complete
/// event-stream frame of the response; later connections pass through. Returns its address.
async fn cutting_proxy(upstream: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            if !std::mem::take(&mut first) {
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                continue;
            }
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upload = tokio::io::copy(&mut client_read, &mut server_write);
                let download = async {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = server_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let start = seen.len();
                        seen.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&seen).into_owned();
                        if let Some(frame) = text.find("id: 1\n")
                            && let Some(end) = text[frame..].find("\n\n")
                        {
                            let cut = frame + end + 2;
                            let _ = client_write.write_all(&seen[start..cut.max(start)]).await;
                            return; // drop the connection mid-stream
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = upload => {}
                    () = download => {}
                }
            });
        }
    });
    address
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_stream_that_drops_is_resumed_after_the_last_frame_received(pool: PgPool) {
    let platform = platform(pool).await;
    platform.ada().await;
    let direct = Cli::new(&platform);
    direct.login("ada@example.com").await;
    let agent = helper_agent(&direct).await;
    let upstream = platform.base().trim_start_matches("http://").to_owned();
    // The same user, through the proxy.
    let proxied = direct
        .sharing_home()
        .env("TEMPONEST_BASE_URL", &cutting_proxy(upstream).await);

    let run = proxied
        .run(&["run", &agent, "alpha beta gamma delta"])
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout, "Echo: alpha beta gamma delta\n",
        "every word once, in order"
    );
    assert!(run.stderr.contains("resuming after frame 1"), "{run:#?}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn ctrl_c_stops_following_and_says_the_execution_goes_on(pool: PgPool) {
    use tokio::io::AsyncReadExt;
    let asked = Arc::new(Notify::new());
    let (_platform, cli) = slow_platform(pool, asked).await;
    let mut running = cli
        .command(&["run", "slow", "take your time"])
        .spawn()
        .unwrap();
    // Once text is printed the client is following the stream (and listening for Ctrl-C).
    let mut stdout = running.stdout.take().unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("thinking") {
        let mut buf = [0u8; 256];
        let n = stdout.read(&mut buf).await.unwrap();
        assert!(n > 0, "the run ended before printing anything");
        seen.extend_from_slice(&buf[..n]);
    }
    let pid = running.id().unwrap().to_string();
    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await;
    assert!(kill.unwrap().success());
    let output = running.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("goes on on the server"), "{stderr}");
    let running = cli
        .json(&["executions", "list", "--status", "running"])
        .await;
    assert_eq!(
        running.as_array().map(Vec::len),
        Some(1),
        "the execution was not stopped"
    );
}
