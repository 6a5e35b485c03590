//! Webhooks, costs and access through the console: an endpoint added (secret shown once), a
//! test event delivered to a real local receiver and its attempt shown; the costs page;
//! users and API keys managed by an admin and refused to a viewer.

use reqwest::StatusCode;
use temponest_test_client::eventually;

use crate::browser::{between, location, receiver, spawn, spawn_with_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_endpoint_is_added_a_test_event_is_delivered_and_its_attempt_is_shown(
    pool: sqlx::PgPool,
) {
    let (platform, admin, mut browser) = spawn_with_ada(pool).await;
    let page = browser.page("/console/webhooks").await;
    assert!(
        page.contains("No endpoints yet") && page.contains(r#"value="agent.created""#),
        "the event catalogue is offered"
    );
    let csrf = browser.csrf("/console/webhooks").await;
    let bad = browser
        .post(
            "/console/webhooks",
            &[
                ("_csrf", &csrf),
                ("name", "ci"),
                ("url", "not a url"),
                ("events[]", "agent.created"),
            ],
        )
        .await;
    assert!(bad.status().is_client_error());
    assert!(bad.text().await.unwrap().contains(r#"role="alert""#));

    let url = receiver("thanks").await;
    let endpoint = [
        ("_csrf", csrf.as_str()),
        ("name", "ci"),
        ("url", &url),
        ("events[]", "agent.created"),
        ("events[]", "agent.deleted"),
    ];
    let created = browser
        .submit("/console/webhooks", &endpoint, StatusCode::CREATED)
        .await;
    assert!(
        created.contains("whsec_") || created.contains("Signing secret"),
        "{created}"
    );
    let endpoint = between(&created, "/console/webhooks/", "\"").to_owned();
    let page = browser.page(&format!("/console/webhooks/{endpoint}")).await;
    assert!(
        page.contains("agent.created, agent.deleted") && page.contains("Nothing delivered yet")
    );

    let resp = browser
        .press(&format!("/console/webhooks/{endpoint}/test"), &csrf)
        .await;
    assert_eq!(location(&resp), format!("/console/webhooks/{endpoint}"));
    let deliveries = format!("/webhooks/{endpoint}/deliveries");
    assert!(
        eventually(|| async {
            let list = platform
                .api
                .get(&admin.token, &deliveries)
                .await
                .text()
                .await
                .unwrap();
            list.contains("\"response_status\":200")
        })
        .await,
        "the test event was delivered"
    );
    let page = browser.page(&format!("/console/webhooks/{endpoint}")).await;
    assert!(
        page.contains("webhook.test") && page.contains(">200<"),
        "{page}"
    );
    let delivery = between(&page, "/console/webhooks/deliveries/", "\"").to_owned();
    let detail = browser
        .page(&format!("/console/webhooks/deliveries/{delivery}"))
        .await;
    assert!(
        detail.contains("#1") && detail.contains("thanks"),
        "the attempt and the receiver's answer: {detail}"
    );
    assert!(
        !detail.contains("/retry"),
        "a delivered delivery offers no retry"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_costs_page_charts_spend_and_shows_the_budget(pool: sqlx::PgPool) {
    let platform = spawn(pool).await;
    let admin = platform.admin("ada@example.com").await;
    let budget = serde_json::json!({"daily_limit_usd": 5.0});
    let resp = platform
        .api
        .post(&admin.token, "/costs/budget", &budget)
        .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let mut browser = platform.signed_in("ada@example.com").await;
    let page = browser.page("/console/costs").await;
    assert!(page.contains(r#"<dd id="total-30d">$0</dd>"#), "{page}");
    assert!(page.contains("$0 of $5.00 (0%)"), "the budget's status");
    assert!(page.contains("<svg") && page.contains("No model calls this month"));
    platform.viewer(&admin, "vic@example.com").await;
    let mut viewer = platform.signed_in("vic@example.com").await;
    let hooks = viewer.page("/console/webhooks").await;
    assert!(
        !hooks.contains("New endpoint"),
        "viewers cannot manage webhooks"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_admin_adds_a_user_and_creates_and_revokes_an_api_key_and_a_viewer_cannot(
    pool: sqlx::PgPool,
) {
    let (platform, _, mut browser) = spawn_with_ada(pool).await;
    let csrf = browser.csrf("/console/access").await;
    let user = [
        ("_csrf", csrf.as_str()),
        ("email", "vic@example.com"),
        ("password", temponest_test_client::PASSWORD),
        ("role", "viewer"),
    ];
    let added = browser.redirected("/console/access/users", &user).await;
    assert_eq!(added, "/console/access");
    let page = browser.page("/console/access").await;
    assert!(page.contains("vic@example.com") && page.contains("No API keys"));
    let new_key = [
        ("_csrf", csrf.as_str()),
        ("name", "ci"),
        ("scopes[]", "agents:read"),
    ];
    let page = browser
        .submit("/console/access/keys", &new_key, StatusCode::CREATED)
        .await;
    let key = between(&page, r#"id="new-key" readonly value=""#, "\"").to_owned();
    assert!(key.starts_with("sk_"), "{key}");
    let with_key = || {
        let agents = platform.api.http.get(platform.api.url("/agents"));
        agents.header("x-api-key", &key).send()
    };
    assert_eq!(with_key().await.unwrap().status(), StatusCode::OK);
    let id = between(&page, "/console/access/keys/", "/").to_owned();
    let resp = browser
        .press(&format!("/console/access/keys/{id}/revoke"), &csrf)
        .await;
    assert_eq!(location(&resp), "/console/access");
    let revoked = with_key().await.unwrap();
    assert_eq!(
        revoked.status(),
        StatusCode::UNAUTHORIZED,
        "the key was revoked"
    );

    let mut viewer = platform.signed_in("vic@example.com").await;
    let overview = viewer.page("/console").await;
    assert!(
        !overview.contains("/console/access"),
        "no Access link for a viewer"
    );
    let page = viewer.page("/console/access").await;
    assert!(page.contains("Only admins") && !page.contains("Add user"));
    let csrf = viewer.csrf("/console/access").await;
    let resp = viewer
        .post(
            "/console/access/keys",
            &[("_csrf", &csrf), ("name", "sneaky")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "the API refuses");
}
