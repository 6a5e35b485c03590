//! The live execution list over plain HTTP: the console's relay of the API's execution
//! events as rendered rows (`row`, `gone` when a row leaves the list's status filter), the
//! rows fragment the script re-reads, and their refusals.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::{location, spawn_with_ada};
use crate::pages::create_agent;
use temponest_console::sse::{SseEvent, take_events};

/// Reads the next `count` events of an open SSE response (20 s at the most).
async fn next_events(resp: &mut Response, buffer: &mut Vec<u8>, count: usize) -> Vec<SseEvent> {
    let mut events = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while events.len() < count {
            let chunk = resp.chunk().await.unwrap().expect("the stream stays open");
            buffer.extend_from_slice(&chunk);
            events.extend(take_events(buffer));
        }
    })
    .await
    .expect("the events within 20 s");
    events
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_list_stream_relays_rendered_rows_and_rows_leaving_its_filter(pool: sqlx::PgPool) {
    let (platform, admin, mut browser) = spawn_with_ada(pool).await;
    let agent = create_agent(&mut browser, "parrot").await;

    let mut stream = browser
        .get(&format!(
            "/console/executions/events?status=completed&agent_id={agent}"
        ))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let run = platform
        .api
        .execute(&admin.token, &agent, "live <b>row</b>")
        .await;
    let id = run["id"].as_str().unwrap();

    let mut buffer = Vec::new();
    let events = next_events(&mut stream, &mut buffer, 3).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    // Pending and running are not in a list of completed executions; completed is.
    assert_eq!(kinds, ["gone", "gone", "row"], "{events:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&events[0].data).unwrap(),
        json!({ "id": id })
    );
    let row: Value = serde_json::from_str(&events[2].data).unwrap();
    assert_eq!(row["id"], id);
    let html = row["html"].as_str().unwrap();
    assert!(
        html.starts_with(&format!("<tr id=\"execution-{id}\"")),
        "{html}"
    );
    assert!(
        html.contains("parrot") && html.contains("completed"),
        "{html}"
    );
    assert!(
        html.contains("live &#60;b&#62;row&#60;/b&#62;") || html.contains("live &lt;b&gt;row"),
        "the message is escaped: {html}"
    );

    // The rows the script re-reads: the same row, only rows.
    let rows = browser
        .page(&format!(
            "/console/executions/rows?limit=1&agent_id={agent}"
        ))
        .await;
    assert!(
        rows.trim()
            .starts_with(&format!("<tr id=\"execution-{id}\"")),
        "{rows}"
    );
    assert!(!rows.contains("<html"), "a fragment: {rows}");
    // The page that follows the list says where.
    let page = browser.page("/console/executions").await;
    assert!(
        page.contains(r#"data-live="/console/executions/events?limit=50""#),
        "{page}"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_list_stream_refuses_bad_filters_and_the_signed_out(pool: sqlx::PgPool) {
    let (platform, _, mut browser) = spawn_with_ada(pool).await;
    for path in [
        "/console/executions/events?status=exploded",
        "/console/executions/events?agent_id=nobody",
        "/console/executions/rows?limit=500",
    ] {
        let resp = browser.get(path).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }
    let mut stranger = platform.browser();
    let resp = stranger.get("/console/executions/events").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/console/sign-in");
}
