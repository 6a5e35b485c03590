//! The agents service deployed on its own: callers are authenticated through the auth
//! service over HTTP (JWKS for access tokens, introspection for API keys), exactly as the
//! stand-alone binary does it.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Harness, TestApp, echo_agent, expect_error, expect_json, spawn};

/// A stand-alone agents service that knows the auth service only by its URL.
async fn standalone_agents(pool: PgPool, auth_base: &str) -> String {
    let mut harness = Harness::new(pool).await;
    harness.platform().auth_url = auth_base.to_owned();
    let agents = harness
        .spawn([temponest_agents::service(crate::helpers::config(&[]))])
        .await;
    agents.api.base.clone()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_standalone_agents_service_accepts_tokens_and_scoped_api_keys_from_the_auth_service(
    pool: PgPool,
) {
    // `spawn` serves auth (and agents) in one process; only its auth routes are used here.
    let auth: TestApp = spawn(pool.clone()).await;
    let agents = standalone_agents(pool, &auth.base).await;
    let ada = auth.signup("ada@example.com").await;
    let http = reqwest::Client::new();

    let agent = expect_json(
        http.post(format!("{agents}/agents/"))
            .bearer_auth(&ada.token)
            .json(&echo_agent("Remote", "echo-1"))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(agent["tenant_id"], ada.tenant_id.as_str());

    let key = auth
        .create(
            &ada.token,
            "/api-keys",
            &json!({"name": "reader", "scopes": ["agents:read"]}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = expect_json(
        http.get(format!("{agents}/agents/"))
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["id"], agent["id"]);
    expect_error(
        http.post(format!(
            "{agents}/agents/{}/execute",
            agent["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .json(&json!({"user_message": "hi"}))
        .send()
        .await
        .unwrap(),
        StatusCode::FORBIDDEN,
        "agents:execute",
    )
    .await;
    let run = expect_json(
        http.post(format!(
            "{agents}/agents/{}/execute",
            agent["id"].as_str().unwrap()
        ))
        .bearer_auth(&ada.token)
        .json(&json!({"user_message": "over the wire"}))
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(run["response"], "Echo: over the wire");
    expect_error(
        http.get(format!("{agents}/agents/")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "",
    )
    .await;
    let health = expect_json(
        http.get(format!("{agents}/health")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["services"], json!(["agents"]));
}
