//! Bad input at the edge of the schedules API: a NUL character or a number JSON cannot carry
//! exactly in a schedule (its task configuration included) is a 422 naming the field, an
//! exact task configuration round-trips unchanged, and an unknown execution status filter is a
//! 422 naming the statuses.

use serde_json::{Value, json};

use crate::helpers::*;
use temponest_test_client::{expect_field_error, names_field};

#[sqlx::test(migrations = "../../migrations")]
async fn nul_characters_and_inexact_numbers_in_a_schedule_are_422s_naming_the_field(
    pool: sqlx::PgPool,
) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:30Z"), "owner@example.com").await;
    let base = |task_config: Value| json!({"agent_id": agent, "cron_expression": "*/5 * * * *", "task_config": task_config});
    for (body, field) in [
        (
            base(json!({"user_message": "report\u{0}"})),
            "task_config.user_message",
        ),
        (
            base(json!({"user_message": "r", "context": {"region\u{0}": "eu"}})),
            "task_config.context.region\\u0000",
        ),
        (
            json!({"agent_id": agent, "cron_expression": "*/5 * * * *", "name": "n\u{0}"}),
            "name",
        ),
    ] {
        expect_field_error(app.post(&s.token, "/schedules", &body).await, field, "").await;
    }
    let body = format!(
        r#"{{"agent_id": "{agent}", "cron_expression": "*/5 * * * *",
            "task_config": {{"user_message": "r", "context": {{"n": 1e-400}}}}}}"#
    );
    let field = "task_config.context.n";
    app.refused_raw(&s.token, "POST /schedules", &body, field, "")
        .await;
    let resp = app.get(&s.token, "/schedules?agent_id=%00").await;
    expect_field_error(resp, "agent_id", "").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_exact_task_configuration_round_trips_unchanged(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:30Z"), "owner@example.com").await;
    let task_config = r#"{"user_message": "r",
        "context": {"tenth": 0.1, "thousands": 1.5e3, "two_53": 9007199254740992,
                    "nested": {"list": [1, -0.5, {"deep": "x"}]}}}"#;
    let body = format!(
        r#"{{"agent_id": "{agent}", "cron_expression": "*/5 * * * *", "task_config": {task_config}}}"#
    );
    let created = app.call_raw(&s.token, "POST /schedules", &body, 201).await;
    let sent: Value = serde_json::from_str(task_config).unwrap();
    let fetched = app.get_schedule(&s, created["id"].as_str().unwrap()).await;
    assert_eq!(fetched["task_config"]["context"], sent["context"]);
    assert_eq!(fetched["task_config"]["user_message"], "r");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_execution_status_filter_is_a_422_naming_the_statuses(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:30Z"), "owner@example.com").await;
    let id = app
        .schedule_id(&s, &agent, json!({"cron_expression": "0 * * * *"}))
        .await;
    app.trigger(&s, &id).await;
    let request = format!("GET /schedules/{id}/executions?status=done");
    let body = app
        .refused(
            &s.token,
            &request,
            None,
            422,
            "must be one of: pending, running, completed, failed",
        )
        .await;
    assert!(names_field(&body, "status", ""), "{body}");
    // Known statuses filter: the triggered execution is pending, not completed.
    for (status, expected) in [("pending", 1), ("completed", 0)] {
        let listed = app
            .fetch(
                &s.token,
                &format!("/schedules/{id}/executions?status={status}"),
            )
            .await;
        assert_eq!(listed.as_array().map(Vec::len), Some(expected), "{status}");
    }
}
