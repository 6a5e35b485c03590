//! schedules: create from flags and from a file, list, get, next runs, pause, resume,
//! trigger, executions, fires (the engine firing every second), update, delete.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{eventually, helper_agent, platform_with_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_schedule_fires_and_its_fires_and_executions_are_listed(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    let agent = helper_agent(&cli).await;

    let schedule = cli
        .json(&[
            "schedules",
            "create",
            "--agent",
            "helper",
            "--cron",
            "* * * * * *",
            "--message",
            "tick",
            "--name",
            "every-second",
        ])
        .await;
    assert_eq!(schedule["agent_id"], agent.as_str());
    assert_eq!(schedule["task_config"]["user_message"], "tick");
    let id = schedule["id"].as_str().unwrap().to_owned();

    // The engine fires it; the fires and their executions are visible.
    let (c, sid) = (&cli, id.as_str());
    assert!(
        eventually(|| async move {
            let fires = c.json(&["schedules", "fires", sid]).await;
            fires.as_array().is_some_and(|f| !f.is_empty())
        })
        .await,
        "the schedule never fired"
    );
    let fires = cli.json(&["schedules", "fires", &id]).await;
    assert!(fires[0]["fire_time"].is_string());
    let table = cli.run(&["schedules", "fires", &id]).await.ok();
    assert!(table.contains("FIRE TIME (LOCAL)"), "{table}");
    assert!(
        eventually(|| async move {
            let runs = c
                .json(&["schedules", "executions", sid, "--status", "completed"])
                .await;
            runs[0]["result"] == "Echo: tick"
        })
        .await,
        "no completed execution"
    );

    let paused = cli.json(&["schedules", "pause", &id]).await;
    assert_eq!(paused["is_active"], false);
    let listed = cli.json(&["schedules", "list", "--active", "false"]).await;
    assert_eq!(listed[0]["id"], id.as_str());
    let triggered = cli.json(&["schedules", "trigger", &id]).await;
    assert!(triggered["id"].is_string(), "{triggered}");
    let resumed = cli.json(&["schedules", "resume", &id]).await;
    assert_eq!(resumed["is_active"], true);

    let deleted = cli.json(&["schedules", "delete", &id]).await;
    assert_eq!(deleted["deleted"], true);
    cli.fails(&["schedules", "get", &id], 1, "not found").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn schedules_come_from_files_and_show_their_next_runs(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    let agent = helper_agent(&cli).await;

    let file = cli.home.join("schedule.yaml");
    std::fs::write(
        &file,
        format!(
            "agent_id: {agent}\ncron_expression: '0 9 * * 1-5'\ntimezone: Europe/Paris\n\
             task_config:\n  user_message: good morning\n  context: {{team: ops}}\n"
        ),
    )
    .unwrap();
    let schedule = cli
        .json(&[
            "schedules",
            "create",
            "-f",
            file.to_str().unwrap(),
            "--name",
            "mornings",
            "--paused",
        ])
        .await;
    assert_eq!(
        (
            &schedule["timezone"],
            &schedule["is_active"],
            &schedule["task_config"]["context"]
        ),
        (
            &json!("Europe/Paris"),
            &json!(false),
            &json!({"team": "ops"})
        )
    );
    let id = schedule["id"].as_str().unwrap().to_owned();

    let next = cli.json(&["schedules", "next", &id, "--count", "6"]).await;
    let times: Vec<DateTime<Utc>> = next
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 6);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    for t in &times {
        let local = t.with_timezone(&paris);
        assert_eq!(local.format("%H:%M").to_string(), "09:00", "{t}");
        assert!(!matches!(
            local.format("%a").to_string().as_str(),
            "Sat" | "Sun"
        ));
    }
    let table = cli.run(&["schedules", "next", &id]).await.ok();
    assert!(
        table.contains("LOCAL TIME") && table.contains("CET") || table.contains("CEST"),
        "{table}"
    );

    let updated = cli
        .json(&["schedules", "update", &id, "--cron", "30 8 * * *"])
        .await;
    assert_eq!(updated["cron_expression"], "30 8 * * *");
    assert_eq!(updated["name"], "mornings");
    let all = cli.json(&["schedules", "list"]).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));

    let for_helper = ["schedules", "create", "--agent", "helper"];
    let bad_cron = [&for_helper[..], &["--cron", "nope", "--message", "x"]].concat();
    cli.fails(&bad_cron, 1, "cron_expression").await;
    let no_message = [&for_helper[..], &["--cron", "* * * * *"]].concat();
    cli.fails(&no_message, 2, "--message is required").await;
    cli.fails(
        &["schedules", "create", "--cron", "* * * * *", "--every", "5"],
        2,
        "cannot be used with",
    )
    .await;
    let _: Value = cli.json(&["schedules", "get", &id]).await;
}
