//! login, refresh, logout, whoami, profiles, environment credentials, the credentials file.

use std::os::unix::fs::PermissionsExt;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Cli, platform, platform_with_ada, read_json};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn login_keeps_the_session_in_a_file_only_the_user_can_read(pool: PgPool) {
    let (platform, ada, cli) = platform_with_ada(pool).await;

    let file = std::fs::metadata(cli.credentials_path()).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(cli.credentials_path().parent().unwrap()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    let stored = &cli.credentials()["profiles"]["default"];
    assert_eq!(stored["url"], platform.base());
    assert_eq!(stored["email"], "ada@example.com");
    assert!(stored["refresh_token"].is_string());

    let me = cli.json(&["whoami"]).await;
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["tenant_id"], ada.tenant_id.as_str());
    let table = cli.run(&["whoami"]).await.ok();
    assert!(table.contains("login session"), "{table}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_expired_or_refused_access_token_is_refreshed_and_the_new_tokens_kept(pool: PgPool) {
    let (_platform, _, cli) = platform_with_ada(pool).await;
    let first = cli.credentials();

    // Expired by the clock: refreshed before the request.
    let mut expired = first.clone();
    expired["profiles"]["default"]["expires_at"] = json!("2020-01-01T00:00:00Z");
    cli.write_credentials(&expired);
    assert_eq!(cli.json(&["agents", "list"]).await, json!([]));
    let second = cli.credentials();
    let profile = &second["profiles"]["default"];
    assert_ne!(
        profile["refresh_token"],
        first["profiles"]["default"]["refresh_token"]
    );
    assert_ne!(
        profile["access_token"],
        first["profiles"]["default"]["access_token"]
    );
    let expires: DateTime<Utc> = profile["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now());
    let mode = std::fs::metadata(cli.credentials_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "a rewrite keeps the file private");

    // Refused by the server (a token it does not accept): refreshed once, then retried.
    let mut refused = second.clone();
    refused["profiles"]["default"]["access_token"] = json!("not-a-token");
    cli.write_credentials(&refused);
    assert_eq!(cli.json(&["agents", "list"]).await, json!([]));
    let third = cli.credentials();
    assert_ne!(
        third["profiles"]["default"]["refresh_token"],
        profile["refresh_token"]
    );

    // A refresh token the server no longer accepts: not logged in (exit 3).
    let mut dead = third.clone();
    dead["profiles"]["default"]["access_token"] = json!("not-a-token");
    dead["profiles"]["default"]["refresh_token"] = json!("rt_unknown");
    cli.write_credentials(&dead);
    cli.fails(&["agents", "list"], 3, "temponest login").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn logout_ends_the_session_on_the_server_and_forgets_it(pool: PgPool) {
    let (platform, _, cli) = platform_with_ada(pool).await;
    let token = cli.credentials()["profiles"]["default"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.run(&["logout"]).await.ok();

    let stored = &cli.credentials()["profiles"]["default"];
    assert!(stored.get("access_token").is_none() && stored.get("refresh_token").is_none());
    assert_eq!(
        stored["url"],
        platform.base(),
        "the profile keeps its platform"
    );
    let resp = platform.api.get(&token, "/auth/me").await;
    assert_eq!(resp.status(), 401, "the session was revoked");
    cli.fails(&["agents", "list"], 3, "not logged in").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn without_credentials_or_with_a_wrong_password_the_exit_code_is_3(pool: PgPool) {
    let platform = platform(pool).await;
    platform.ada().await;
    let cli = Cli::new(&platform);
    cli.fails(&["agents", "list"], 3, "not logged in").await;
    cli.fails(&["whoami", "-o", "json"], 3, "\"not_logged_in\"")
        .await;
    cli.run_with_stdin(
        &["login", "--email", "ada@example.com", "--password-stdin"],
        Some("wrong password\n"),
    )
    .await
    .fails(3, "HTTP 401");
    assert!(
        !cli.credentials_path().exists(),
        "nothing stored after a failed login"
    );
    // No terminal to prompt on: a usage error, not a hang.
    cli.fails(
        &["login", "--email", "ada@example.com"],
        2,
        "--password-stdin",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn api_keys_work_from_login_and_from_the_environment(pool: PgPool) {
    let (platform, ada, cli) = platform_with_ada(pool).await;
    let created = cli
        .json(&[
            "api-keys",
            "create",
            "--name",
            "ci",
            "--scope",
            "agents:read",
        ])
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_"));
    let listed = cli.json(&["api-keys", "list"]).await;
    assert_eq!(listed[0]["name"], "ci");
    assert!(
        listed[0].get("key").is_none(),
        "a listing never shows the secret"
    );

    let with_key = Cli::new(&platform);
    with_key
        .run_with_stdin(&["login", "--api-key", "-"], Some(&format!("{key}\n")))
        .await
        .ok();
    assert_eq!(with_key.json(&["whoami"]).await["email"], "ada@example.com");
    assert_eq!(
        with_key.credentials()["profiles"]["default"]["api_key"],
        key.as_str()
    );

    let from_env = Cli::new(&platform).env("TEMPONEST_API_KEY", &key);
    assert_eq!(from_env.json(&["agents", "list"]).await, json!([]));
    let from_token = Cli::new(&platform).env("TEMPONEST_AUTH_TOKEN", &ada.token);
    assert_eq!(
        from_token.json(&["whoami"]).await["email"],
        "ada@example.com"
    );

    cli.run(&["api-keys", "revoke", created["id"].as_str().unwrap()])
        .await
        .ok();
    from_env.fails(&["agents", "list"], 3, "HTTP 401").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn profiles_keep_separate_platforms_and_credentials(pool: PgPool) {
    let platform = platform(pool).await;
    platform.ada().await;
    platform.api.signup("bob@example.com").await;
    let cli = Cli::new(&platform).env("XDG_CONFIG_HOME", "");
    cli.login("ada@example.com").await;
    cli.run_with_stdin(
        &[
            "--profile",
            "bob",
            "login",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some(temponest_test_client::PASSWORD),
    )
    .await
    .ok();
    assert_eq!(cli.json(&["whoami"]).await["email"], "ada@example.com");
    assert_eq!(
        cli.json(&["--profile", "bob", "whoami"]).await["email"],
        "bob@example.com"
    );

    cli.run(&["profiles", "use", "bob"]).await.ok();
    assert_eq!(cli.json(&["whoami"]).await["email"], "bob@example.com");
    let profiles = cli.json(&["profiles", "list"]).await;
    let names: Vec<(&str, bool)> = profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["default"] == true))
        .collect();
    assert_eq!(names, [("bob", true), ("default", false)]);
    cli.fails(&["profiles", "use", "nope"], 2, "no profile")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn xdg_config_home_is_where_credentials_go_when_set(pool: PgPool) {
    let platform = platform(pool).await;
    platform.ada().await;
    let xdg = std::env::temp_dir().join(format!("temponest-xdg-{}", uuid::Uuid::new_v4()));
    let cli = Cli::new(&platform).env("XDG_CONFIG_HOME", xdg.to_str().unwrap());
    cli.login("ada@example.com").await;
    let file = xdg.join("temponest/credentials.json");
    assert_eq!(
        read_json(&file)["profiles"]["default"]["email"],
        "ada@example.com"
    );
    assert!(!cli.credentials_path().exists());
    std::fs::remove_dir_all(xdg).unwrap();
}
