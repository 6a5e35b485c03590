//! Login: tokens, indistinguishable failures, lockout, rate limits, rehash.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use temponest_auth::AuthConfig;

use crate::helpers::{
    Options, PASSWORD, expect_error, expect_json, retry_after, spawn, spawn_configured,
    spawn_rate_limited, spawn_with,
};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn login_returns_a_bearer_access_token_and_a_refresh_token(pool: PgPool) {
    let app = spawn(pool).await;
    app.register("ada@example.com").await;
    let tokens = app.tokens("ADA@example.com").await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let me = app
        .fetch(tokens["access_token"].as_str().unwrap(), "/auth/me")
        .await;
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["roles"], json!(["admin"]));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn login_with_wrong_password_is_rejected_like_unknown_email(pool: PgPool) {
    let app = spawn(pool).await;
    app.register("ada@example.com").await;
    let wrong_password = app.login("ada@example.com", "not the password").await;
    let unknown_email = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let mut a: serde_json::Value = wrong_password.json().await.unwrap();
    let mut b: serde_json::Value = unknown_email.json().await.unwrap();
    a["request_id"] = json!(null);
    b["request_id"] = json!(null);
    assert_eq!(a, b);
    assert_eq!(a["detail"], "invalid email or password");
    let failures = app.audit_count("login.failure").await;
    assert_eq!(failures, 2);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn repeated_failures_lock_the_account_even_for_the_right_password(pool: PgPool) {
    let app = lockout_app(pool).await;
    for _ in 0..3 {
        let status = app.login_status("ada@example.com", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let locked = app.login("ada@example.com", PASSWORD).await;
    let retry_after = retry_after(&locked);
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    expect_error(
        locked,
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed login attempts",
    )
    .await;
    // Unknown accounts lock the same way, so lockout does not reveal who is registered.
    for _ in 0..3 {
        app.login("ghost@example.com", "wrong password!").await;
    }
    app.login_refused(
        "ghost@example.com",
        PASSWORD,
        StatusCode::TOO_MANY_REQUESTS,
        "too many",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn parallel_guesses_cannot_exceed_the_lockout_threshold(pool: PgPool) {
    let app = lockout_app(pool).await;
    let attempts = join_all((0..12).map(|_| app.login("ada@example.com", "wrong password!"))).await;
    let checked = attempts
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    let refused = attempts
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 3, "only `threshold` passwords may be checked");
    assert_eq!(refused, 9);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_successful_login_resets_the_failure_streak(pool: PgPool) {
    let app = lockout_app(pool).await;
    for _ in 0..2 {
        app.login("ada@example.com", "wrong password!").await;
    }
    let status = app.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..2 {
        app.login("ada@example.com", "wrong password!").await;
    }
    let status = app.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn login_is_rate_limited_per_ip_and_account(pool: PgPool) {
    let config = AuthConfig {
        login_per_minute: 2,
        ..Options::default().config
    };
    let options = Options {
        config,
        rate_limits: true,
        ..Options::default()
    };
    let app = spawn_with(pool, options).await;
    app.register("ada@example.com").await;
    let status = app.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let status = app.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let limited = app.login("ada@example.com", PASSWORD).await;
    assert!(retry_after(&limited) >= 1);
    assert_eq!(limited.headers()["x-ratelimit-limit"], "2");
    expect_json(limited, StatusCode::TOO_MANY_REQUESTS).await;
    // Another account from the same IP is not affected.
    app.register("bob@example.com").await;
    let status = app.login_status("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_hash_with_old_parameters_is_upgraded_on_login(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    app.register("ada@example.com").await;
    let before: String = sqlx::query_scalar("select password_hash from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(before.contains("m=8192"), "{before}");
    let config = AuthConfig {
        argon2_memory_kib: 9 * 1024,
        ..Options::default().config
    };
    let upgraded = spawn_configured(pool.clone(), config).await;
    let status = upgraded.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let after: String = sqlx::query_scalar("select password_hash from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(after.contains("m=9216"), "{after}");
    let status = upgraded.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn registration_is_limited_to_three_per_hour_per_ip(pool: PgPool) {
    let app = spawn_rate_limited(pool).await;
    for i in 0..3 {
        app.register(&format!("user{i}@example.com")).await;
    }
    let body = json!({"email": "user4@example.com", "password": PASSWORD});
    let resp = app.post_public("/auth/register", &body).await;
    assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
    assert!(
        resp.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("q=3;w=3600")
    );
    assert!(retry_after(&resp) >= 1);
    expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn many_parallel_correct_logins_never_lock_the_account(pool: PgPool) {
    let app = lockout_app(pool).await;
    let attempts = join_all((0..16).map(|_| app.login("ada@example.com", PASSWORD))).await;
    let ok = attempts
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert!(ok >= 3, "at least `threshold` logins run at once ({ok})");
    for resp in attempts
        .into_iter()
        .filter(|r| r.status() != StatusCode::OK)
    {
        assert_eq!(resp.headers()["retry-after"], "1");
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "in progress").await;
    }
    // Nothing was counted as a failure: the account is not locked.
    let status = app.login_status("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let failed: i32 = sqlx::query_scalar("select failed_count from auth.login_throttle")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);
}

/// An app with a lockout threshold of 3 and the per-minute login limit out of the way, so
/// tests exercise the lockout alone; ada@example.com is registered.
async fn lockout_app(pool: PgPool) -> crate::helpers::TestApp {
    let config = AuthConfig {
        login_per_minute: 1000,
        lockout_threshold: 3,
        ..Options::default().config
    };
    let app = spawn_configured(pool, config).await;
    app.register("ada@example.com").await;
    app
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn throttle_rows_whose_window_and_lockout_are_over_are_purged_and_counted(pool: PgPool) {
    temponest_telemetry::metrics_handle();
    let app = spawn(pool.clone()).await;
    // (email, minutes since the last change, lock end in minutes from now)
    let rows: [(&str, i32, Option<i32>); 5] = [
        ("recent@example.com", 1, None),     // kept: the window is running
        ("quiet@example.com", 20, None),     // purged
        ("locked@example.com", 20, Some(5)), // kept: still locked
        ("was-locked@example.com", 40, Some(-20)), // purged: lock over 20 min ago
        ("just-unlocked@example.com", 40, Some(-5)), // kept: lock over only 5 min ago
    ];
    for (email, changed, lock) in rows {
        sqlx::query(
            "insert into auth.login_throttle (email, failed_count, lockouts, locked_until,
                 updated_at)
             values ($1, 3, 1, now() + make_interval(mins => $3),
                     now() - make_interval(mins => $2))",
        )
        .bind(email)
        .bind(changed)
        .bind(lock)
        .execute(&pool)
        .await
        .unwrap();
    }
    temponest_auth::domain::throttle_retention::run_once(&pool)
        .await
        .unwrap();
    let mut left: Vec<String> = sqlx::query_scalar("select email from auth.login_throttle")
        .fetch_all(&pool)
        .await
        .unwrap();
    left.sort();
    assert_eq!(
        left,
        [
            "just-unlocked@example.com",
            "locked@example.com",
            "recent@example.com"
        ]
    );
    let metrics = app.metrics().await;
    let needle = "temponest_retention_purged_rows_total{table=\"auth.login_throttle\"} 2";
    assert!(metrics.contains(needle), "{needle} not in:\n{metrics}");
}
