//! Schedules through the console: the cron preview, creating one, its next fire times in
//! the viewer's zone, pause, resume and trigger.

use reqwest::StatusCode;
use temponest_test_client::eventually;

use crate::browser::{Browser, between, location, spawn_with_ada};
use crate::pages::create_agent;

/// Where the form previews a schedule's next fire times.
const PREVIEW: &str = "/console/schedules/preview";

fn refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn set_zone(browser: &mut Browser, zone: &str) {
    let cookie = browser.cookie.clone().unwrap();
    browser.cookie = Some(format!("{cookie}; tn_tz={zone}"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_schedule_is_previewed_created_shown_in_the_viewers_zone_paused_resumed_and_triggered(
    pool: sqlx::PgPool,
) {
    let (platform, admin, mut browser) = spawn_with_ada(pool).await;
    let page = browser.page("/console/schedules/new").await;
    assert!(page.contains("create an agent"), "no agent yet: {page}");
    let agent = create_agent(&mut browser, "parrot").await;
    set_zone(&mut browser, "Asia/Tokyo").await;
    assert!(
        browser
            .page("/console/schedules")
            .await
            .contains("No schedules yet")
    );

    let csrf = browser.csrf("/console/schedules/new").await;
    let form = |cron: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("agent_id", agent.clone()),
            ("name", "morning".into()),
            ("cron_expression", cron.into()),
            ("timezone", "Europe/Berlin".into()),
            ("message", "daily summary".into()),
        ]
    };
    // 09:00 Berlin in winter is 17:00 in Tokyo.
    let preview = browser
        .submit(PREVIEW, &refs(&form("0 9 * * *")), StatusCode::OK)
        .await;
    let listed = between(&preview, r#"<ol id="preview">"#, "</ol>");
    assert_eq!(listed.matches("<li>").count(), 5, "{listed}");
    assert!(
        listed.contains("17:00:00 JST") || listed.contains("16:00:00 JST"),
        "{listed}"
    );
    assert!(
        preview.contains(r#"value="daily summary""#)
            || preview.contains("daily summary</textarea>"),
        "the form is kept"
    );
    let bad = browser
        .submit(
            PREVIEW,
            &refs(&form("61 * * * *")),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(bad.contains("cron_expression"));

    let path = browser
        .redirected("/console/schedules", &refs(&form("0 9 * * *")))
        .await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    let detail = browser.page(&path).await;
    let upcoming = between(&detail, r#"<ol id="upcoming">"#, "</ol>");
    assert_eq!(upcoming.matches("<li>").count(), 5);
    assert!(upcoming.contains("JST"), "the viewer's zone: {upcoming}");
    let list = browser.page("/console/schedules").await;
    assert!(
        list.contains("morning") && list.contains("parrot") && list.contains("Times in Asia/Tokyo")
    );
    assert!(list.contains("JST"), "next run in the viewer's zone");

    let resp = browser.press(&format!("{path}/pause"), &csrf).await;
    assert_eq!(location(&resp), path);
    let schedule = platform
        .api
        .fetch(&admin.token, &format!("/schedules/{id}"))
        .await;
    assert_eq!(schedule["is_active"], false);
    assert!(
        browser
            .page(&path)
            .await
            .contains("while the schedule is paused")
    );
    browser.press(&format!("{path}/resume"), &csrf).await;
    let schedule = platform
        .api
        .fetch(&admin.token, &format!("/schedules/{id}"))
        .await;
    assert_eq!(schedule["is_active"], true);

    browser
        .redirected(&format!("{path}/trigger"), &[("_csrf", &csrf)])
        .await;
    let runs = platform
        .api
        .fetch(&admin.token, &format!("/schedules/{id}/executions"))
        .await;
    assert_eq!(
        runs[0]["trigger"], "manual",
        "the API recorded the triggered run: {runs}"
    );
    assert!(
        eventually(|| async {
            let runs = agent_executions(&platform, &admin.token, &agent).await;
            runs.as_array().is_some_and(|runs| !runs.is_empty())
        })
        .await,
        "the triggered run executed the agent"
    );
    let resp = browser.press(&format!("{path}/explode"), &csrf).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The agent's executions, as the API lists them.
async fn agent_executions(
    platform: &crate::browser::Platform,
    token: &str,
    agent: &str,
) -> serde_json::Value {
    platform
        .api
        .fetch(token, &format!("/executions?agent_id={agent}"))
        .await
}
