//! The http_request tool: SSRF-guarded by default, allowed networks by configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use serde_json::json;
use sqlx::PgPool;
use temponest_agents::domain::tools::ToolError;
use temponest_test_client::serve;

use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::spawn_with;

async fn receiver() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/data",
        get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "the secret internal answer"
            }
        }),
    );
    let url = format!("http://{}/data", serve(app).await);
    (url, hits)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn http_request_refuses_loopback_by_default_and_the_model_sees_why(pool: PgPool) {
    let (url, hits) = receiver().await;
    let fake = FakeLlm::start(
        vec![
            Reply::Tool("http_request".into(), json!({"url": url})),
            Reply::Text("could not fetch".into()),
        ],
        None,
    )
    .await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app.ada_with_agent(json!({"name": "Fetch", "model": "gpt-4o", "provider": "openai", "tools": ["http_request"]})).await;
    let run = app.run(&ada.token, &agent, "fetch it").await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["tools_used"], json!(["http_request"]));
    let error = run["tool_calls"][0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"));
    assert!(
        error.contains("not allowed") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the internal server"
    );
    let followup = fake.requests()[1]["messages"].as_array().unwrap().clone();
    let tool_message = followup
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool result went back");
    assert!(
        tool_message["content"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );

    for blocked in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://localhost/",
    ] {
        let result = app
            .state
            .tools
            .call(
                &["http_request".into()],
                "http_request",
                &json!({"url": blocked}),
            )
            .await;
        let err = result.unwrap_err();
        assert!(
            matches!(err, ToolError::Refused(_)) && err.to_string().contains("not allowed"),
            "{blocked}: {err}"
        );
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn http_request_reaches_networks_the_operator_allowed(pool: PgPool) {
    let (url, hits) = receiver().await;
    let fake = FakeLlm::start(
        vec![
            Reply::Tool("http_request".into(), json!({"url": url, "method": "GET"})),
            Reply::Text("done".into()),
        ],
        None,
    )
    .await;
    let mut cfg = fake.config();
    cfg.tools.http_allowed_networks = "127.0.0.0/8".into();
    cfg.tools.http_max_response_bytes = 10;
    let app = spawn_with(pool, cfg).await;
    let (ada, agent) = app.ada_with_agent(json!({"name": "Fetch", "model": "gpt-4o", "provider": "openai", "tools": ["http_request"]})).await;
    let run = app.run(&ada.token, &agent, "fetch it").await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let result: serde_json::Value =
        serde_json::from_str(run["tool_calls"][0]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["status"], 200);
    assert_eq!(
        result["body"], "the secret",
        "capped at http_max_response_bytes"
    );
    assert_eq!(result["truncated"], true);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn tool_names_a_model_invents_never_become_metric_labels(pool: PgPool) {
    let invented = format!("exfiltrate_{}", uuid::Uuid::new_v4().simple());
    let model = format!("tenant-model-{}", uuid::Uuid::new_v4().simple());
    let fake = FakeLlm::start(
        vec![
            Reply::Tool(invented.clone(), json!({})),
            Reply::Text("done".into()),
        ],
        None,
    )
    .await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app.ada_with_agent(json!({"name": "Inventive", "model": model, "provider": "openai", "tools": ["http_request"]})).await;
    let run = app.run(&ada.token, &agent, "go").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["tools_used"],
        json!([invented]),
        "the call is still recorded"
    );

    let metrics = temponest_telemetry::render_metrics();
    assert!(
        !metrics.contains(&invented),
        "an invented tool name became a label"
    );
    assert!(
        !metrics.contains(&model),
        "a tenant's model name became a label"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("agent_tool_calls_total{") && l.contains("tool=\"other\"")),
        "{metrics}"
    );
    for series in ["llm_tokens_total{", "llm_cost_nano_usd_total{"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(series) && l.contains("provider=\"openai\"")),
            "{series} per provider: {metrics}"
        );
    }
}
