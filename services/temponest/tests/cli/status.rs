//! `status` and `completions`.

use serde_json::Value;
use sqlx::PgPool;
use temponest_test_client::serve;

use crate::helpers::{Cli, platform};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn status_shows_readiness_services_version_and_engines(pool: PgPool) {
    let platform = platform(pool).await;
    // No login needed: the health and metrics endpoints are public.
    let cli = Cli::new(&platform);
    let report = cli.json(&["status"]).await;
    assert_eq!(report["ready"], true);
    assert_eq!(report["client_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["server_version"], report["client_version"]);
    let services: Vec<&str> = report["health"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for service in ["auth", "agents", "scheduler", "webhooks"] {
        assert!(services.contains(&service), "{services:?}");
    }
    assert_eq!(report["metrics_available"], true);
    for engine in [
        "scheduler_queue_depth",
        "webhook_queue_depth",
        "scheduler_fire_lateness_seconds",
    ] {
        assert!(report["engines"].get(engine).is_some(), "{report}");
    }
    let table = cli.run(&["status"]).await.ok();
    assert!(
        table.contains("ready") && table.contains("database"),
        "{table}"
    );
    assert!(table.contains("webhooks: deliveries waiting"), "{table}");

    let version = cli.json(&["version"]).await;
    assert_eq!(version["client"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["server"], env!("CARGO_PKG_VERSION"));
    let text = cli.run(&["version"]).await;
    let expected = format!(
        "platform  {} ({})",
        env!("CARGO_PKG_VERSION"),
        platform.base()
    );
    assert!(text.stdout.contains(&expected), "{text:#?}");
    assert!(
        !text.stderr.contains("warning"),
        "same versions: no warning"
    );

    // Nothing listens on port 9 (discard): unreachable is exit 1.
    Cli::new(&platform)
        .env("TEMPONEST_BASE_URL", "http://127.0.0.1:9")
        .fails(&["status"], 1, "cannot reach")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn completions_are_printed_for_each_shell(pool: PgPool) {
    let platform = platform(pool).await;
    let cli = Cli::new(&platform);
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef temponest"),
        ("fish", "complete -c temponest"),
    ] {
        let script = cli.run(&["completions", shell]).await.ok();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("schedules"),
            "{shell} completes the client commands"
        );
    }
    cli.fails(&["completions", "tcsh"], 2, "invalid value")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_platform_of_another_version_is_warned_about(pool: PgPool) {
    let platform = platform(pool).await;
    // A platform that reports another version (a stand-in for an older deployment).
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"version": "0.0.1"})) }),
    );
    let url = format!("http://{}", serve(app).await);
    let cli = Cli::new(&platform).env("TEMPONEST_BASE_URL", &url);
    let outcome = cli.run(&["version"]).await;
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    assert!(outcome.stdout.contains("platform  0.0.1"), "{outcome:#?}");
    assert!(
        outcome.stderr.contains("warning: the client is version"),
        "{outcome:#?}"
    );
}
