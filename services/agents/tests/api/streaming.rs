//! Streaming executions: numbered SSE frames ending with [DONE], persisted frames, resume with
//! Last-Event-ID (live and after the fact), cancellation that aborts the upstream call, the
//! time limit.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fake_llm::{FakeLlm, Reply, aborted};
use crate::helpers::{
    echo_agent, eventually, expect_error, expect_json, parse_sse, resume, spawn_with,
    spawn_with_agent, sse_content, sse_frames, stream,
};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_streamed_execution_sends_numbered_frames_ending_with_done_and_is_persisted(
    pool: PgPool,
) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("Parrot", "m")).await;
    let (resp, id) = stream(
        &app,
        &ada.token,
        agent["id"].as_str().unwrap(),
        "one two three",
    )
    .await;
    let frames = sse_frames(resp).await;
    assert!(frames.len() >= 3, "{frames:?}");
    for (i, (seq, _)) in frames.iter().enumerate() {
        assert_eq!(
            seq,
            &(i + 1).to_string(),
            "every frame is numbered in order"
        );
    }
    assert_eq!(frames.last().unwrap().1, "[DONE]");
    assert_eq!(sse_content(&frames), "Echo: one two three");

    let run = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["stream"], true);
    assert_eq!(run["response"], "Echo: one two three");
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from agents.execution_frames where execution_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored as usize,
        frames.len() - 1,
        "every content frame is persisted"
    );
    let costs = app.cost_rows(&id).await;
    assert_eq!(costs.len(), 1);
    assert_eq!(costs[0]["streamed"], true);
    assert_eq!(costs[0]["completion_tokens"], 4);

    // Resume after the fact, from Postgres: the tail after frame 2, then [DONE].
    let resp = resume(&app, &ada.token, &id, "2").await;
    let tail = sse_frames(resp).await;
    assert_eq!(tail, frames[2..].to_vec());
    expect_error(
        resume(&app, &ada.token, &id, "two").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Last-Event-ID",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn streamed_openai_calls_are_costed_from_the_reported_usage(pool: PgPool) {
    let fake = FakeLlm::start(
        vec![Reply::Text("streamed answer here".into())],
        Some((300, 30)),
    )
    .await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "S", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let (resp, id) = stream(&app, &ada.token, agent["id"].as_str().unwrap(), "go").await;
    let frames = sse_frames(resp).await;
    assert_eq!(sse_content(&frames), "streamed answer here");
    assert_eq!(fake.requests()[0]["stream"], true);
    let costs = app.cost_rows(&id).await;
    assert_eq!(costs[0]["streamed"], true);
    assert_eq!(costs[0]["prompt_tokens"], 300);
    assert_eq!(costs[0]["completion_tokens"], 30);
    assert_eq!(costs[0]["usage_estimated"], false);
    // 300 × 2.5 + 30 × 10 = 1050 micro-dollars... per Mtok: $0.00105
    assert_eq!(costs[0]["cost_nanos"], 1_050_000);
    let run = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert!((run["cost_usd"].as_f64().unwrap() - 0.00105).abs() < 1e-12);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cancelling_a_streamed_execution_aborts_the_upstream_call_and_resume_sees_the_end(
    pool: PgPool,
) {
    let fake = FakeLlm::start(vec![Reply::Hang("partial ".into())], None).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let (mut body, id) = stream(
        &app,
        &ada.token,
        agent["id"].as_str().unwrap(),
        "take your time",
    )
    .await;
    let mut seen = String::new();
    while !seen.contains("partial") {
        let chunk = body.chunk().await.unwrap().expect("the stream stays open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(seen.contains("id: 1"), "{seen}");

    // A second follower joins live after frame 1.
    let follower = resume(&app, &ada.token, &id, "1").await;
    assert_eq!(follower.status(), StatusCode::OK);

    let closed = fake.closed();
    let cancelled = app.cancel(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(cancelled["status"], "failed");
    assert_eq!(cancelled["outcome"], "cancelled");
    aborted(&closed, "the upstream request was aborted").await;

    while let Some(chunk) = body.chunk().await.unwrap() {
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let frames = parse_sse(&seen);
    assert_eq!(frames.last().unwrap().1, "[DONE]", "{frames:?}");
    let error: Value = serde_json::from_str(&frames[frames.len() - 2].1).unwrap();
    assert_eq!(error["outcome"], "cancelled");
    let tail = sse_frames(follower).await;
    assert_eq!(
        tail,
        frames[1..].to_vec(),
        "the follower got everything after frame 1"
    );

    assert!(
        eventually(|| async {
            app.cost_rows(&id)
                .await
                .first()
                .is_some_and(|c| c["status"] == "cancelled")
        })
        .await,
        "the interrupted call is costed"
    );
    let cost = &app.cost_rows(&id).await[0];
    assert_eq!(cost["usage_estimated"], true);
    assert_eq!(cost["completion_tokens"], 2, "'partial ' ≈ 2 tokens");
    app.refused(
        &ada.token,
        &format!("POST /executions/{id}/cancel"),
        Some(&json!({})),
        409,
        "already finished",
    )
    .await;
    let run = app.fetch(&ada.token, &format!("/executions/{id}")).await;
    assert_eq!(run["outcome"], "cancelled");
    let types: Vec<String> = app.event_types(&ada.tenant_id).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "agent.execution.failed")
            .count(),
        1,
        "one end event: {types:?}"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_synchronous_execution_can_be_cancelled_from_another_request(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Hang(String::new())], None).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let pending = {
        let (http, url, token) = (
            app.http.clone(),
            app.url(&format!(
                "/agents/{}/execute",
                agent["id"].as_str().unwrap()
            )),
            ada.token.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"user_message": "wait"}))
                .send()
                .await
                .unwrap()
        })
    };
    fake.wait_for_request().await;
    let list = app.fetch(&ada.token, "/executions/?status=running").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let closed = fake.closed();
    app.cancel(&ada.token, &format!("/executions/{id}")).await;
    aborted(&closed, "upstream aborted").await;
    let run = expect_json(pending.await.unwrap(), StatusCode::OK).await;
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "cancelled");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_execution_over_its_time_limit_fails_as_timed_out(pool: PgPool) {
    let fake = FakeLlm::start(vec![Reply::Hang(String::new())], None).await;
    let mut cfg = fake.config();
    cfg.executions.timeout_secs = 1;
    let app = spawn_with(pool, cfg).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "Slow", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let closed = fake.closed();
    let run = app.run(&ada.token, &agent, "wait").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "timed_out");
    assert!(run["error"].as_str().unwrap().contains("time limit"));
    aborted(&closed, "upstream aborted").await;
}
