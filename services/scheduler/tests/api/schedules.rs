//! The schedules API: CRUD with the SDK's shapes, validation, pause/resume, cron changes,
//! manual triggers, tenant isolation and permissions.

use reqwest::StatusCode;
use serde_json::json;

use temponest_test_client::fixtures::count;

use crate::helpers::*;

#[sqlx::test(migrations = "../../migrations")]
async fn create_with_the_sdk_body_get_list_and_defaults(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:30Z"), "owner@example.com").await;
    let created = app
        .create(
            &s.token,
            "/schedules",
            &json!({"agent_id": agent, "cron_expression": "*/5 * * * *",
                    "task_config": {"user_message": "report", "context": {"region": "eu"}}}),
        )
        .await;
    assert_eq!(created["agent_id"], agent.as_str());
    assert_eq!(created["tenant_id"], s.tenant_id.as_str());
    assert_eq!(created["cron_expression"], "*/5 * * * *");
    assert_eq!(created["schedule_type"], "cron");
    assert_eq!(created["timezone"], "UTC");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["overlap_policy"], "skip");
    assert_eq!(created["misfire_policy"], "fire_once");
    assert_eq!(created["max_retries"], 3);
    assert_eq!(created["timeout_seconds"], 300);
    assert_eq!(created["run_count"], 0);
    assert_eq!(created["last_run"], json!(null));
    assert_eq!(ts(&created["next_run"]), t("2026-06-01T10:05:00Z"));
    assert_eq!(created["task_config"]["context"]["region"], "eu");
    assert_eq!(created["name"], "cron */5 * * * *");
    let id = created["id"].as_str().unwrap();

    let got = app.get_schedule(&s, id).await;
    assert_eq!(got, created);
    for path in ["/schedules", "/schedules/"] {
        let resp = app.get(&s.token, path).await;
        assert_eq!(resp.headers()["x-total-count"], "1");
        let list = expect_json(resp, StatusCode::OK).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["id"], id);
    }
    // Malformed and unknown ids are 404.
    app.refused(
        &s.token,
        "GET /schedules/not-a-uuid",
        None,
        404,
        "not found",
    )
    .await;
    let request = format!("GET /schedules/{}", uuid::Uuid::new_v4());
    app.refused(&s.token, &request, None, 404, "schedule").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn validation_gives_clear_422s_and_404_for_foreign_agents(pool: sqlx::PgPool) {
    let (app, s, agent) = spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "v@example.com").await;
    let cases = [
        (json!({"cron_expression": "61 * * * *"}), "cron_expression"),
        (json!({"cron_expression": "not cron"}), "cron_expression"),
        (json!({"cron_expression": "0 0 30 2 *"}), "never fires"),
        (
            json!({"cron_expression": "* * * * *", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (json!({}), "one of cron_expression"),
        (
            json!({"cron_expression": "* * * * *", "interval_seconds": 60}),
            "only one",
        ),
        (json!({"interval_seconds": 0}), "interval_seconds"),
        (json!({"run_at": "2020-01-01T00:00:00Z"}), "past"),
        (
            json!({"cron_expression": "* * * * *", "overlap_policy": "sometimes"}),
            "overlap_policy",
        ),
        (
            json!({"cron_expression": "* * * * *", "misfire_policy": "never"}),
            "misfire_policy",
        ),
        (
            json!({"cron_expression": "* * * * *", "max_retries": 99}),
            "max_retries",
        ),
        (
            json!({"cron_expression": "* * * * *", "timeout_seconds": 0}),
            "timeout_seconds",
        ),
        (
            json!({"cron_expression": "* * * * *", "task_config": {"context": {}}}),
            "user_message",
        ),
        (
            json!({"cron_expression": "* * * * *", "task_config": {"user_message": "x", "context": 3}}),
            "context",
        ),
    ];
    for (mut body, needle) in cases {
        body["agent_id"] = json!(agent);
        if body.get("task_config").is_none() {
            body["task_config"] = json!({"user_message": "hi"});
        }
        let err = app
            .call(&s.token, "POST /schedules/", Some(&body), 422)
            .await;
        assert!(
            err.to_string().contains(needle),
            "{body}: expected {needle:?} in {err}"
        );
        assert!(
            err["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{err}"
        );
    }
    // A malformed agent id is a 422; an agent of another tenant is a 404.
    let resp = app
        .post(&s.token, "/schedules/", &json!({"agent_id": "nope", "cron_expression": "* * * * *", "task_config": {"user_message": "x"}}))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other = app.signup("other@example.com").await;
    let foreign = app.agent(&other).await;
    app.refused(&s.token, "POST /schedules/", Some(&json!({"agent_id": foreign, "cron_expression": "* * * * *", "task_config": {"user_message": "x"}})), 404, "not found in your tenant")
    .await;
    let count = count(&app.pool, "select count(*) from scheduler.schedules").await;
    assert_eq!(count, 0, "no refused request left a schedule behind");
}

#[sqlx::test(migrations = "../../migrations")]
async fn patch_pause_resume_and_cron_change_recompute_next_run(pool: sqlx::PgPool) {
    let (app, s, agent) = spawn_with_agent(pool, t("2026-06-01T10:00:30Z"), "p@example.com").await;
    let created = app
        .schedule(&s, &agent, json!({"cron_expression": "0 * * * *"}))
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(ts(&created["next_run"]), t("2026-06-01T11:00:00Z"));

    let paused = app
        .act(&s.token, &format!("/schedules/{id}/pause"), &json!({}))
        .await;
    assert_eq!(paused["is_active"], false);
    assert_eq!(paused["next_run"], json!(null));
    app.clock().set(t("2026-06-01T12:30:00Z"));
    let resumed = app
        .act(&s.token, &format!("/schedules/{id}/resume"), &json!({}))
        .await;
    assert_eq!(resumed["is_active"], true);
    assert_eq!(
        ts(&resumed["next_run"]),
        t("2026-06-01T13:00:00Z"),
        "resumes from now"
    );

    let changed = app.update(&s.token, &format!("/schedules/{id}"), &json!({"cron_expression": "15 14 * * *", "timezone": "Europe/Berlin", "name": "daily"}))
    .await;
    assert_eq!(changed["cron_expression"], "15 14 * * *");
    assert_eq!(changed["name"], "daily");
    // 14:15 in Berlin (CEST, +2) is 12:15 UTC, passed today: tomorrow.
    assert_eq!(ts(&changed["next_run"]), t("2026-06-02T12:15:00Z"));
    let path = format!("/schedules/{id}");
    let via_patch = app
        .update(&s.token, &path, &json!({"is_active": false}))
        .await;
    assert_eq!(via_patch["is_active"], false);

    // A change of something else keeps next_run; switching to an interval.
    let path = format!("/schedules/{id}");
    let interval = app
        .update(
            &s.token,
            &path,
            &json!({"interval_seconds": 90, "is_active": true}),
        )
        .await;
    assert_eq!(interval["schedule_type"], "interval");
    assert_eq!(interval["cron_expression"], json!(null));
    assert_eq!(ts(&interval["next_run"]), t("2026-06-01T12:31:30Z"));
    let path = format!("/schedules/{id}");
    let retried = app
        .update(&s.token, &path, &json!({"max_retries": 0}))
        .await;
    assert_eq!(retried["next_run"], interval["next_run"]);
    // Bad patches are refused and change nothing.
    let request = format!("PATCH /schedules/{id}");
    let body = json!({"timezone": "Nowhere/City"});
    app.refused(&s.token, &request, Some(&body), 422, "unknown time zone")
        .await;
    assert_eq!(app.get_schedule(&s, id).await["timezone"], "Europe/Berlin");

    // List filters: by agent and by is_active.
    let second_agent = app.agent(&s).await;
    app.schedule(&s, &second_agent, json!({"interval_seconds": 60}))
        .await;
    let by_agent = app
        .fetch(&s.token, &format!("/schedules/?agent_id={agent}"))
        .await;
    assert_eq!(by_agent.as_array().unwrap().len(), 1);
    assert_eq!(by_agent[0]["id"], id);
    let resp = app
        .get(&s.token, "/schedules/?is_active=true&limit=1")
        .await;
    assert_eq!(resp.headers()["x-total-count"], "2");
    assert_eq!(
        expect_json(resp, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Delete: gone from reads, 404 on repeat.
    let resp = app.delete(&s.token, &format!("/schedules/{id}")).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let request = format!("GET /schedules/{id}");
    app.refused(&s.token, &request, None, 404, "schedule").await;
    let request = format!("DELETE /schedules/{id}");
    app.refused(&s.token, &request, None, 404, "schedule").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn tenants_never_see_or_touch_each_others_schedules(pool: sqlx::PgPool) {
    let (app, a, _agent, id) = spawn_with_schedule(pool, "a@example.com").await;
    let b = app.signup("b@example.com").await;
    for resp in [
        app.get(&b.token, &format!("/schedules/{id}")).await,
        app.patch(
            &b.token,
            &format!("/schedules/{id}"),
            &json!({"name": "mine"}),
        )
        .await,
        app.post(&b.token, &format!("/schedules/{id}/trigger"), &json!({}))
            .await,
        app.post(&b.token, &format!("/schedules/{id}/pause"), &json!({}))
            .await,
        app.get(&b.token, &format!("/schedules/{id}/executions"))
            .await,
        app.get(&b.token, &format!("/schedules/{id}/fires")).await,
        app.delete(&b.token, &format!("/schedules/{id}")).await,
    ] {
        expect_error(resp, StatusCode::NOT_FOUND, "not found").await;
    }
    let list = app.fetch(&b.token, "/schedules/").await;
    assert_eq!(list, json!([]));
    // Still intact for its owner.
    let own = app.get_schedule(&a, &id).await;
    assert_eq!(own["is_active"], true);
    assert_ne!(own["name"], "mine");
    // Unauthenticated: 401.
    let resp = app.http.get(app.url("/schedules/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_viewer_reads_but_cannot_change_schedules(pool: sqlx::PgPool) {
    let (app, admin, _agent, id) = spawn_with_schedule(pool, "admin@example.com").await;
    let viewer = &app
        .member(&admin.token, "viewer@example.com", &["viewer"])
        .await;

    app.fetch(viewer, &format!("/schedules/{id}")).await;
    let request = format!("POST /schedules/{id}/trigger");
    app.refused(viewer, &request, Some(&json!({})), 403, "schedules:write")
        .await;
    let request = format!("PATCH /schedules/{id}");
    let body = json!({"is_active": false});
    app.refused(viewer, &request, Some(&body), 403, "schedules:write")
        .await;
    let request = format!("DELETE /schedules/{id}");
    app.refused(viewer, &request, None, 403, "schedules:write")
        .await;
}

/// An app at 2026-06-01 10:00 UTC, its tenant admin `email`, an echo agent of theirs and a
/// schedule of it firing every minute: the app, the admin, the agent and the schedule's id.
async fn spawn_with_schedule(
    pool: sqlx::PgPool,
    email: &str,
) -> (TestApp, Session, String, String) {
    let (app, admin, agent) = spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), email).await;
    let every_minute = json!({"cron_expression": "* * * * *"});
    let id = app.schedule_id(&admin, &agent, every_minute).await;
    (app, admin, agent, id)
}

/// An API key of `session`'s user with exactly `scopes`.
async fn scoped_key(app: &TestApp, session: &Session, scopes: &[&str]) -> String {
    let body = json!({"name": scopes.join("+"), "scopes": scopes});
    let created = app.create(&session.token, "/api-keys", &body).await;
    created["key"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn running_an_agent_through_a_schedule_needs_the_right_to_run_it(pool: sqlx::PgPool) {
    let (app, admin, agent, id) = spawn_with_schedule(pool, "admin@example.com").await;
    let schedules_only = scoped_key(&app, &admin, &["schedules:read", "schedules:write"]).await;
    let body = json!({"agent_id": agent, "cron_expression": "* * * * *",
                      "task_config": {"user_message": "spend money"}});
    app.refused(
        &schedules_only,
        "POST /schedules/",
        Some(&body),
        403,
        "agents:execute",
    )
    .await;
    for path in [
        format!("/schedules/{id}/trigger"),
        format!("/schedules/{id}/resume"),
    ] {
        let request = format!("POST {path}");
        app.refused(
            &schedules_only,
            &request,
            Some(&json!({})),
            403,
            "agents:execute",
        )
        .await;
    }
    let request = format!("PATCH /schedules/{id}");
    app.refused(
        &schedules_only,
        &request,
        Some(&json!({"task_config": {"user_message": "something else"}})),
        403,
        "agents:execute",
    )
    .await;
    // Results are the agent's answers: reading them needs agents:read.
    let request = format!("GET /schedules/{id}/executions");
    app.refused(&schedules_only, &request, None, 403, "agents:read")
        .await;
    // Pausing stops runs, so schedules:write alone is enough for it.
    app.act(
        &schedules_only,
        &format!("/schedules/{id}/pause"),
        &json!({}),
    )
    .await;

    let runner = scoped_key(
        &app,
        &admin,
        &[
            "agents:execute",
            "agents:read",
            "schedules:read",
            "schedules:write",
        ],
    )
    .await;
    app.create(&runner, "/schedules/", &body).await;
    app.fetch(&runner, &format!("/schedules/{id}/executions"))
        .await;
    let queued = count(&app.pool, "select count(*) from scheduler.executions").await;
    assert_eq!(queued, 0, "nothing was triggered by the refused calls");
}
