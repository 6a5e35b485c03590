//! The agents service end to end on the other wire protocols: Ollama's native NDJSON stream
//! (the default provider) and Anthropic Messages, each served by a local HTTP server.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::post;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_llm::ProviderKind;
use temponest_test_client::serve;

use crate::helpers::{config, provider, spawn_with, sse_content, sse_frames, stream};

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Ollama `/api/chat` (NDJSON when streaming) and Anthropic `/v1/messages` (JSON) on one server.
async fn fake_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (ollama_seen, anthropic_seen) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/api/chat",
            post(move |body: axum::Json<Value>| {
                let seen = ollama_seen.clone();
                async move {
                    seen.lock().unwrap().push(("ollama".into(), body.0.clone()));
                    let lines = [
                        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Hel"}, "done": false}),
                        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "lo from "}, "done": false}),
                        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "llama"}, "done": false}),
                        json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true,
                               "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 5}),
                    ];
                    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                    // Split mid-line so the client must reassemble NDJSON across chunks.
                    let (a, b) = text.split_at(text.len() / 3);
                    let chunks = vec![Ok::<_, std::io::Error>(a.to_owned()), Ok(b.to_owned())];
                    ([("content-type", "application/x-ndjson")], Body::from_stream(futures::stream::iter(chunks)))
                }
            }),
        )
        .route(
            "/v1/messages",
            post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let seen = anthropic_seen.clone();
                async move {
                    let mut body = body.0;
                    body["x-api-key"] = json!(headers.get("x-api-key").and_then(|v| v.to_str().ok()));
                    seen.lock().unwrap().push(("anthropic".into(), body));
                    axum::Json(json!({
                        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                        "content": [{"type": "text", "text": "Hello from Claude"}],
                        "stop_reason": "end_turn",
                        "usage": {"input_tokens": 40, "output_tokens": 10}
                    }))
                }
            }),
        );
    let base = format!("http://{}", serve(app).await);
    (base, seen)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_default_ollama_provider_streams_over_native_ndjson(pool: PgPool) {
    let (base, seen) = fake_server().await;
    let app = spawn_with(
        pool,
        config(&[("ollama", provider(ProviderKind::Ollama, &base, None))]),
    )
    .await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Local", "model": "llama3.2"}))
        .await;
    assert_eq!(agent["provider"], "ollama");
    let (resp, id) = stream(&app, &ada.token, agent["id"].as_str().unwrap(), "hi").await;
    let frames = sse_frames(resp).await;
    assert_eq!(sse_content(&frames), "Hello from llama");
    let run = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["tokens_used"]["prompt"], 12);
    assert_eq!(run["tokens_used"]["completion"], 5);
    assert_eq!(run["cost_usd"], 0.0);
    assert_eq!(
        run["unpriced"], false,
        "self-hosted models are free, not unpriced"
    );
    let (kind, request) = seen.lock().unwrap()[0].clone();
    assert_eq!(kind, "ollama");
    assert_eq!(request["stream"], true);
    assert_eq!(request["model"], "llama3.2");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn anthropic_agents_are_answered_and_priced_from_the_table(pool: PgPool) {
    let (base, seen) = fake_server().await;
    let app = spawn_with(
        pool,
        config(&[(
            "anthropic",
            provider(ProviderKind::Anthropic, &base, Some("sk-ant-test")),
        )]),
    )
    .await;
    let (ada, agent) = app
        .ada_with_agent(
            json!({"name": "Claude", "model": "claude-sonnet-4-5-20250929", "provider": "anthropic",
                                   "system_prompt": "You are terse."}),
        )
        .await;
    let run = app.run(&ada.token, &agent, "hi").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["response"], "Hello from Claude");
    // claude-sonnet-4-5: $3 / $15 per Mtok → 40 × 3 + 10 × 15 = 270 micro-dollars
    assert!(
        (run["cost_usd"].as_f64().unwrap() - 0.00027).abs() < 1e-12,
        "{}",
        run["cost_usd"]
    );
    let (kind, request) = seen.lock().unwrap()[0].clone();
    assert_eq!(kind, "anthropic");
    assert_eq!(request["system"], "You are terse.");
    assert_eq!(request["x-api-key"], "sk-ant-test");
    assert_eq!(request["messages"][0]["role"], "user");
}
