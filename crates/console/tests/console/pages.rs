//! The pages: agents created, edited, run (the answer streamed through the console) and
//! deleted; executions listed, filtered and shown; the overview's figures; a viewer's pages
//! without mutating buttons; the API's refusals shown with their `detail`.

use reqwest::StatusCode;
use serde_json::Value;
use temponest_test_client::eventually;

use crate::browser::{Browser, location, spawn, spawn_with_ada};

/// Creates an agent through the console's form; returns its id.
pub async fn create_agent(browser: &mut Browser, name: &str) -> String {
    let csrf = browser.csrf("/console/agents/new").await;
    let fields = [
        ("_csrf", csrf.as_str()),
        ("name", name),
        ("provider", "echo"),
        ("model", "echo-1"),
        ("temperature", "0.5"),
    ];
    let created = browser.redirected("/console/agents", &fields).await;
    created.rsplit('/').next().unwrap().to_owned()
}

/// The text of an execution's SSE stream: its frames' `content`, in order.
fn streamed_text(stream: &str) -> String {
    stream
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|frame| frame["content"].as_str().map(str::to_owned))
        .collect()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_admin_creates_an_agent_runs_it_follows_the_answer_and_finds_the_execution(
    pool: sqlx::PgPool,
) {
    let (platform, admin, mut browser) = spawn_with_ada(pool).await;
    let page = browser.page("/console/agents").await;
    assert!(page.contains("No agents yet"), "empty state");

    let id = create_agent(&mut browser, "parrot").await;
    let page = browser.page(&format!("/console/agents/{id}")).await;
    assert!(page.contains("parrot") && page.contains("echo-1"));
    assert!(page.contains("This agent has not run yet"));
    let csrf = browser.csrf(&format!("/console/agents/{id}")).await;

    let run = [("_csrf", csrf.as_str()), ("message", "hello console")];
    let execution_page = browser
        .redirected(&format!("/console/agents/{id}/run"), &run)
        .await;
    let execution = execution_page.rsplit('/').next().unwrap().to_owned();
    assert_eq!(execution_page, format!("/console/executions/{execution}"));

    // The answer streams through the console as Server-Sent Events.
    let resp = browser
        .get(&format!("/console/executions/{execution}/stream"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let stream = resp.text().await.unwrap();
    assert_eq!(streamed_text(&stream), "Echo: hello console", "{stream}");
    assert!(stream.contains("data: [DONE]"), "{stream}");
    let resumed = browser
        .get_with(
            &format!("/console/executions/{execution}/stream"),
            &[("last-event-id", "1")],
        )
        .await;
    let resumed = resumed.text().await.unwrap();
    assert!(
        !resumed.contains("id: 1\n") && resumed.contains("id: 2\n"),
        "resumed after frame 1: {resumed}"
    );
    assert!(!streamed_text(&resumed).starts_with("Echo: "));

    assert!(
        eventually(|| async {
            let path = format!("/executions/{execution}");
            platform.api.fetch(&admin.token, &path).await["status"] == "completed"
        })
        .await
    );
    let page = browser
        .page(&format!("/console/executions/{execution}"))
        .await;
    assert!(
        page.contains("Echo: hello console") && page.contains("completed"),
        "{page}"
    );
    assert!(
        !page.contains("data-stream"),
        "a finished execution is not followed"
    );
    let list = browser.page("/console/executions").await;
    assert!(list.contains(&execution) && list.contains("parrot"));
    let filtered = browser
        .page(&format!("/console/executions?agent_id={id}&status=failed"))
        .await;
    assert!(!filtered.contains(&execution) && filtered.contains("match these filters"));
    let filtered = browser
        .page(&format!(
            "/console/executions?agent_id={id}&status=completed"
        ))
        .await;
    assert!(filtered.contains(&execution));
    let resp = browser.get("/console/executions?status=exploded").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("status must be one of"));

    let overview = browser.page("/console").await;
    assert!(
        overview.contains(r#"<dd id="executions-total">1</dd>"#),
        "{overview}"
    );
    assert!(overview.contains(r#"<dd id="success-rate">100.0%</dd>"#));
    assert!(
        overview.matches("<svg").count() >= 3,
        "charts are inline SVG"
    );

    // Edit, then delete.
    let edit = [
        ("_csrf", csrf.as_str()),
        ("name", "parrot-2"),
        ("provider", "echo"),
        ("model", "echo-1"),
        ("description", "renamed"),
    ];
    browser
        .redirected(&format!("/console/agents/{id}"), &edit)
        .await;
    let agent = platform
        .api
        .fetch(&admin.token, &format!("/agents/{id}"))
        .await;
    assert_eq!(agent["name"], "parrot-2");
    assert_eq!(agent["description"], "renamed");
    let search = browser.page("/console/agents?q=parrot-2").await;
    assert!(search.contains(&id));
    let search = browser.page("/console/agents?q=nomatch").await;
    assert!(search.contains("No agent matches"));
    let resp = browser
        .press(&format!("/console/agents/{id}/delete"), &csrf)
        .await;
    assert_eq!(location(&resp), "/console/agents");
    let agents = platform.api.fetch(&admin.token, "/agents").await;
    assert_eq!(agents, serde_json::json!([]));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_apis_refusals_are_shown_on_the_form_with_their_detail(pool: sqlx::PgPool) {
    let (_platform, _, mut browser) = spawn_with_ada(pool).await;
    create_agent(&mut browser, "parrot").await;
    let csrf = browser.csrf("/console/agents/new").await;
    let duplicate = [
        ("_csrf", csrf.as_str()),
        ("name", "PARROT"),
        ("provider", "echo"),
        ("model", "echo-1"),
    ];
    let page = browser
        .submit("/console/agents", &duplicate, StatusCode::CONFLICT)
        .await;
    assert!(
        page.contains(r#"role="alert""#) && page.to_lowercase().contains("already"),
        "{page}"
    );
    assert!(page.contains(r#"value="PARROT""#), "what was typed is kept");
    let hot = [
        ("_csrf", csrf.as_str()),
        ("name", "x"),
        ("model", "echo-1"),
        ("temperature", "hot"),
    ];
    let page = browser
        .submit("/console/agents", &hot, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(page.contains("temperature must be a number"));
    let resp = browser
        .get("/console/agents/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = browser.get("/console/agents/not-a-uuid").await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_viewer_sees_no_mutating_buttons_and_a_forged_post_is_refused_by_the_api(
    pool: sqlx::PgPool,
) {
    let platform = spawn(pool).await;
    let admin = platform.admin("ada@example.com").await;
    platform.viewer(&admin, "vic@example.com").await;
    let mut admin_browser = platform.signed_in("ada@example.com").await;
    let id = create_agent(&mut admin_browser, "parrot").await;

    let mut viewer = platform.signed_in("vic@example.com").await;
    let list = viewer.page("/console/agents").await;
    assert!(list.contains("parrot") && !list.contains("New agent"));
    let detail = viewer.page(&format!("/console/agents/{id}")).await;
    for action in [
        "/run\"",
        "/delete\"",
        &format!("action=\"/console/agents/{id}\""),
    ] {
        assert!(!detail.contains(action), "a viewer sees no {action} form");
    }
    assert!(
        detail.contains("Configuration"),
        "the viewer reads the configuration instead"
    );
    let csrf = viewer.csrf("/console/agents").await;
    let resp = viewer
        .post(
            "/console/agents",
            &[
                ("_csrf", &csrf),
                ("name", "sneaky"),
                ("model", "echo-1"),
                ("provider", "echo"),
            ],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "the API's own role check answers"
    );
    let resp = viewer
        .press(&format!("/console/agents/{id}/delete"), &csrf)
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = viewer
        .post(
            &format!("/console/agents/{id}/run"),
            &[("_csrf", &csrf), ("message", "hi")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let agents = platform.api.fetch(&admin.token, "/agents").await;
    assert_eq!(agents.as_array().unwrap().len(), 1);
    let overview = viewer.page("/console").await;
    assert!(
        overview.contains("Last 24 hours"),
        "viewers hold costs:read"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn tenants_see_only_their_own_agents_through_the_console(pool: sqlx::PgPool) {
    let platform = spawn(pool).await;
    platform.admin("ada@example.com").await;
    platform.admin("bob@example.com").await;
    let mut ada = platform.signed_in("ada@example.com").await;
    let id = create_agent(&mut ada, "ada-secret").await;
    let mut bob = platform.signed_in("bob@example.com").await;
    assert!(!bob.page("/console/agents").await.contains("ada-secret"));
    assert_eq!(
        bob.get(&format!("/console/agents/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}
