//! Collaboration sessions over HTTP, with every step a real execution against a local
//! LLM-protocol server scripted per test: each pattern's data flow, concurrency, stop rules,
//! cancellation, restart, costs, tenant isolation, validation and the SSE stream.

mod hierarchical;
mod lifecycle;
mod patterns;
mod reading;
mod validation;

use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::AgentsConfig;

use crate::fake_llm::{Reply, last_message};
use crate::helpers::{Session, TestApp, eventually, spawn_with};

/// A reply naming the model that answered and what it was asked: `[model] input`.
pub fn tagged(_: usize, body: &Value) -> Reply {
    Reply::Text(format!(
        "[{}] {}",
        body["model"].as_str().unwrap(),
        last_message(body)
    ))
}

/// Creates one agent per (name, model) on `provider`; returns their ids.
pub async fn team(
    app: &TestApp,
    token: &str,
    provider: &str,
    agents: &[(&str, &str)],
) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, model) in agents {
        let agent = app
            .agent(
                token,
                json!({"name": name, "model": model, "provider": provider,
                       "description": format!("{name} agent")}),
            )
            .await;
        ids.push(agent["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// The app on `config` with ada signed up and her team of (name, model) agents on the `openai`
/// provider (their ids): how most session tests begin.
pub async fn ada_team(
    pool: PgPool,
    config: AgentsConfig,
    agents: &[(&str, &str)],
) -> (TestApp, Session, Vec<String>) {
    let app = spawn_with(pool, config).await;
    let ada = app.signup("ada@example.com").await;
    let ids = team(&app, &ada.token, "openai", agents).await;
    (app, ada, ids)
}

/// Starts a session and returns it (201).
pub async fn collaborate(app: &TestApp, token: &str, body: Value) -> Value {
    app.call(token, "POST /collaboration/execute", Some(&body), 201)
        .await
}

/// Waits until the session has ended and returns it.
pub async fn ended(app: &TestApp, token: &str, id: &str) -> Value {
    let path = format!("/collaboration/sessions/{id}");
    assert!(
        eventually(|| async {
            let session = app.fetch(token, &path).await;
            session["status"] == "completed" || session["status"] == "failed"
        })
        .await,
        "the session ended"
    );
    app.fetch(token, &path).await
}

/// The steps' (key, agent, input, output) in the session's order.
pub fn steps(session: &Value) -> Vec<(String, String, String, String)> {
    session["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step_key"].as_str().unwrap().to_owned(),
                s["agent_id"].as_str().unwrap().to_owned(),
                s["input"].as_str().unwrap().to_owned(),
                s["output"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
