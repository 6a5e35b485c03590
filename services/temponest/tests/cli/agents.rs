//! agents, users and costs commands; output formats; the API's errors and usage errors.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Cli, helper_agent, platform_with_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn agents_are_created_listed_changed_and_deleted(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    let id = helper_agent(&cli).await;

    // The API's objects unchanged in JSON, by id or by name.
    let by_name = cli.json(&["agents", "get", "HELPER"]).await;
    let by_id = cli.json(&["agents", "get", &id]).await;
    assert_eq!(by_name, by_id);
    assert_eq!(by_id["provider"], "echo");
    assert_eq!(by_id["max_iterations"], 10);

    let list = cli.json(&["agents", "list"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    let yaml = cli.run(&["agents", "list", "-o", "yaml"]).await.ok();
    let parsed: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(parsed, list, "YAML carries the same objects");
    let table = cli.run(&["agents", "list"]).await.ok();
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("helper") && table.contains("echo-1"),
        "{table}"
    );

    let updated = cli
        .json(&[
            "agents",
            "update",
            "helper",
            "--temperature",
            "0.2",
            "--description",
            "d",
        ])
        .await;
    assert_eq!(updated["temperature"], 0.2);
    assert_eq!(updated["description"], "d");
    assert_eq!(updated["model"], "echo-1", "fields not given are kept");

    let file = cli.home.join("agent.yaml");
    std::fs::write(
        &file,
        "name: second\nmodel: echo-2\nprovider: echo\ntools: []\n",
    )
    .unwrap();
    let second = cli
        .json(&[
            "agents",
            "create",
            "-f",
            file.to_str().unwrap(),
            "--model",
            "echo-3",
        ])
        .await;
    assert_eq!(
        (&second["name"], &second["model"]),
        (&json!("second"), &json!("echo-3"))
    );
    let found = cli.json(&["agents", "list", "--search", "sec"]).await;
    assert_eq!(found.as_array().unwrap().len(), 1);

    let deleted = cli.json(&["agents", "delete", "helper"]).await;
    assert_eq!(deleted, json!({"id": id, "deleted": true}));
    cli.fails(&["agents", "get", &id], 1, "not found").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_apis_detail_is_printed_and_usage_errors_exit_2(pool: PgPool) {
    let (platform, _, cli) = platform_with_ada(pool).await;

    let invalid = cli
        .fails(
            &[
                "agents",
                "create",
                "--name",
                " ",
                "--model",
                "m",
                "--temperature",
                "9",
            ],
            1,
            "HTTP 422",
        )
        .await;
    assert!(invalid.stderr.contains("temperature"), "{invalid:#?}");
    let json = cli
        .fails(
            &[
                "agents",
                "get",
                "00000000-0000-0000-0000-000000000000",
                "-o",
                "json",
            ],
            1,
            "\"status\":404",
        )
        .await;
    let error: Value = serde_json::from_str(json.stderr.trim()).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    assert!(error["error"]["request_id"].is_string());

    cli.fails(
        &["agents", "create", "--model", "m"],
        2,
        "--name is required",
    )
    .await;
    cli.fails(&["agents", "list", "--limit", "500"], 2, "500")
        .await;
    cli.fails(&["agents", "frobnicate"], 2, "unrecognized subcommand")
        .await;
    cli.fails(&["agents", "get", "no-such-agent"], 1, "no agent named")
        .await;
    let file = cli.home.join("bad.json");
    std::fs::write(&file, "[1, 2]").unwrap();
    cli.fails(
        &["agents", "create", "-f", file.to_str().unwrap()],
        2,
        "one object",
    )
    .await;
    Cli::new(&platform)
        .env("TEMPONEST_BASE_URL", "ftp://example.com")
        .fails(&["agents", "list"], 2, "http://")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn users_are_created_listed_and_changed(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;

    let bob = cli
        .run_with_stdin(
            &[
                "users",
                "create",
                "--email",
                "bob@example.com",
                "--role",
                "developer",
                "--password-stdin",
                "-o",
                "json",
            ],
            Some(temponest_test_client::PASSWORD),
        )
        .await
        .ok();
    let bob: Value = serde_json::from_str(&bob).unwrap();
    assert_eq!(bob["roles"], json!(["developer"]));
    let id = bob["id"].as_str().unwrap();
    let users = cli.json(&["users", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(
        cli.json(&["users", "get", id]).await["email"],
        "bob@example.com"
    );
    let changed = cli
        .json(&[
            "users", "update", id, "--role", "viewer", "--active", "false",
        ])
        .await;
    assert_eq!(
        (&changed["roles"], &changed["is_active"]),
        (&json!(["viewer"]), &json!(false))
    );
    cli.fails(&["users", "update", id], 2, "nothing to change")
        .await;

    let table = cli.run(&["users", "list"]).await.ok();
    assert!(table.contains("bob@example.com"), "{table}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn costs_summary_and_budgets(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    helper_agent(&cli).await;
    cli.run(&["run", "helper", "count my words", "--no-stream"])
        .await
        .ok();

    let summary = cli.json(&["costs", "summary", "--agent", "helper"]).await;
    assert_eq!(summary["calls"], 1);
    assert!(summary["total_tokens"]["output"].as_i64().unwrap() > 0);
    let table = cli.run(&["costs", "summary"]).await.ok();
    assert!(table.contains("1 calls"), "{table}");

    let set = cli
        .json(&[
            "costs",
            "set-budget",
            "--daily",
            "5",
            "--monthly",
            "100",
            "--alert-threshold",
            "0.5",
        ])
        .await;
    assert_eq!(
        (
            &set["daily_limit_usd"],
            &set["monthly_limit_usd"],
            &set["alert_threshold"]
        ),
        (&json!(5.0), &json!(100.0), &json!(0.5))
    );
    // Only what is given changes.
    let set = cli
        .json(&["costs", "set-budget", "--monthly", "none"])
        .await;
    assert_eq!(
        (
            &set["daily_limit_usd"],
            &set["monthly_limit_usd"],
            &set["alert_threshold"]
        ),
        (&json!(5.0), &Value::Null, &json!(0.5))
    );
    assert_eq!(cli.json(&["costs", "budget"]).await, set);
    let status = cli.json(&["costs", "budget-status"]).await;
    assert_eq!(status["daily_limit"], 5.0);
    assert!(status["monthly_limit"].is_null());
    let table = cli.run(&["costs", "budget-status"]).await.ok();
    assert!(
        table.contains("daily") && table.contains("monthly"),
        "{table}"
    );
    cli.fails(
        &["costs", "set-budget", "--daily", "lots"],
        2,
        "number of USD",
    )
    .await;
    cli.fails(
        &["costs", "set-budget", "--alert-threshold", "7"],
        1,
        "HTTP 422",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_reader_that_goes_away_ends_the_command_quietly(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    helper_agent(&cli).await;
    // `temponest agents list | head -0`: stdout is closed before anything is written.
    let mut child = cli
        .command(&["agents", "list", "-o", "json"])
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
