//! Token signing keys and the refresh-token key at rest: sealed under the operator key, sealed
//! at the next start when a key is introduced, re-sealed after a key rotation, and a start with
//! a key that cannot open them is refused with the setting named.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use temponest_auth::AppState;
use temponest_sealing::{KeyText, Sealer};

use crate::helpers::{Options, expect_json, spawn_with, try_spawn};

fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn options(current: &str, previous: &str) -> Options {
    let mut options = Options::default();
    options.config.secret_key = KeyText(current.to_owned());
    options.config.previous_secret_key = KeyText(previous.to_owned());
    options
}

/// (kid or name, stored bytes, sealed) of every signing key and server secret.
async fn stored(pool: &PgPool) -> Vec<(String, Vec<u8>, bool)> {
    sqlx::query_as(
        "select kid, private_key, sealed from auth.signing_keys
         union all select name, value, sealed from auth.secrets order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Starts the service (without Redis), for starts that must fail; the error's text.
async fn build(pool: &PgPool, current: &str, previous: &str) -> Result<AppState, String> {
    let options = Options {
        redis_url: None,
        ..options(current, previous)
    };
    try_spawn(pool.clone(), options)
        .await
        .map(|app| app.state)
        .map_err(|e| e.to_string())
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn signing_keys_and_the_refresh_key_are_sealed_and_keep_working(pool: PgPool) {
    let app = spawn_with(pool, options(&key(1), "")).await;
    let session = app.signup("ada@example.com").await;
    app.fetch(&session.access, "/auth/me").await;
    expect_json(
        app.post_public("/auth/refresh", &json!({"refresh_token": session.refresh}))
            .await,
        StatusCode::OK,
    )
    .await;
    let rows = stored(&app.pool).await;
    assert_eq!(rows.len(), 2, "one signing key and the refresh-token key");
    let sealer = Sealer::new(&key(1), "").unwrap();
    for (owner, bytes, sealed) in &rows {
        assert!(*sealed, "{owner} stored in the clear");
        assert_eq!(
            bytes.len(),
            12 + 32 + 16,
            "{owner}: nonce, sealed 32 bytes, tag"
        );
        assert!(
            sealer
                .open(owner.as_bytes(), bytes, true)
                .unwrap()
                .by_current
        );
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn keys_are_sealed_when_a_key_is_introduced_and_resealed_after_a_rotation(pool: PgPool) {
    // Started without a key: stored as they are.
    let plain = spawn_with(pool.clone(), options("", "")).await;
    let session = plain.signup("ada@example.com").await;
    assert!(stored(&pool).await.iter().all(|(_, _, sealed)| !sealed));

    // The next start with a key seals them; tokens issued before still work.
    let keyed = spawn_with(pool.clone(), options(&key(1), "")).await;
    assert!(stored(&pool).await.iter().all(|(_, _, sealed)| *sealed));
    keyed.fetch(&session.access, "/auth/me").await;

    // A start without the key, or with another one, is refused and names the setting.
    for (current, previous) in [("", ""), (key(2).as_str(), "")] {
        let err = build(&pool, current, previous).await.err().unwrap();
        assert!(err.contains("TEMPONEST_SECRET_KEY"), "{err}");
        assert!(!err.contains(&key(1)), "{err}");
    }

    // Rotation: new key current, old key previous; one start re-seals everything under the
    // new key, after which the old key can go.
    let rotated = spawn_with(pool.clone(), options(&key(2), &key(1))).await;
    rotated.fetch(&session.access, "/auth/me").await;
    let only_new = Sealer::new(&key(2), "").unwrap();
    for (owner, bytes, sealed) in stored(&pool).await {
        assert!(
            only_new.open(owner.as_bytes(), &bytes, sealed).is_some(),
            "{owner}"
        );
    }
    let after = spawn_with(pool.clone(), options(&key(2), "")).await;
    expect_json(
        after
            .post_public("/auth/refresh", &json!({"refresh_token": session.refresh}))
            .await,
        StatusCode::OK,
    )
    .await;
}
