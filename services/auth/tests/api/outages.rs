//! Dependency outages: Redis down is invisible to users; Postgres down is a 503 that
//! recovers without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, PgPool};
use temponest_db::DbConfig;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Options, PASSWORD, expect_json, spawn_with};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn every_endpoint_works_with_redis_down(pool: PgPool) {
    let options = Options {
        redis_url: Some("redis://127.0.0.1:1".into()),
        rate_limits: true,
        ..Options::default()
    };
    let app = spawn_with(pool, options).await;
    let session = app.signup("ada@example.com").await;
    app.fetch(&session.access, "/auth/me").await;
    let next = expect_json(
        app.post_public("/auth/refresh", &json!({"refresh_token": session.refresh}))
            .await,
        StatusCode::OK,
    )
    .await;
    let key = app
        .create(&session.access, "/api-keys", &json!({"name": "k"}))
        .await;
    app.fetch(key["key"].as_str().unwrap(), "/auth/me").await;
    app.fetch(&session.access, "/api-keys").await;
    let body = json!({"email": "b@example.com", "password": PASSWORD});
    let user = app.create(&session.access, "/users", &body).await;
    let body = json!({"roles": ["developer"]});
    app.update(
        &session.access,
        &format!("/users/{}", user["id"].as_str().unwrap()),
        &body,
    )
    .await;
    app.revoke_key(&session.access, &key).await;
    app.refused(
        key["key"].as_str().unwrap(),
        "GET /auth/me",
        None,
        401,
        "revoked",
    )
    .await;
    app.fetch(&session.access, "/tenants/current").await;
    let resp = app
        .post(
            next["access_token"].as_str().unwrap(),
            "/auth/logout",
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let health = expect_json(app.get_public("/health", &[]).await, StatusCode::OK).await;
    assert_eq!(health["checks"]["database"]["status"], "ok");
    // The limiter still limits (in process) and still sends its headers.
    let resp = app.get(&session.access, "/auth/me").await;
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
}

/// How the proxy fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    /// New connections are closed at once (Postgres stopped, port closed).
    Refused,
    /// New connections are accepted and never answered (host gone, packets dropped).
    BlackHole,
}

const UP: u8 = 0;

/// A TCP proxy to Postgres that can cut every connection and refuse or black-hole new ones.
struct Switch {
    port: u16,
    /// `UP`, or an [`Outage`] as `1 + its index`.
    mode: Arc<AtomicU8>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Switch {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(UP));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (mode2, gen2) = (Arc::clone(&mode), Arc::clone(&generation));
        tokio::spawn(async move {
            // Black-holed connections stay open, unanswered, until the test ends.
            let mut held = Vec::new();
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                match mode2.load(Ordering::SeqCst) {
                    UP => {}
                    m if m == 1 + Outage::BlackHole as u8 => {
                        held.push(client);
                        continue;
                    }
                    _ => {
                        drop(client);
                        continue;
                    }
                }
                let mut cut = gen2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            mode,
            generation,
        }
    }

    fn set(&self, up: bool) {
        if up {
            self.mode.store(UP, Ordering::SeqCst);
        } else {
            self.fail(Outage::Refused);
        }
    }

    /// Cuts every connection; new ones fail as `outage` says.
    fn fail(&self, outage: Outage) {
        self.mode.store(1 + outage as u8, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_postgres_outage_is_a_503_and_the_service_recovers_without_restart(pool: PgPool) {
    let switch = Switch::start().await;
    let options = (*pool.connect_options())
        .clone()
        .host("127.0.0.1")
        .port(switch.port);
    let proxied = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_with(options)
        .await
        .unwrap();
    let app = spawn_with(proxied, Options::default()).await;
    let session = app.signup("ada@example.com").await;
    app.fetch(&session.access, "/users").await;

    switch.set(false);
    let resp = app.get(&session.access, "/users").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        !body.to_string().contains("5432"),
        "no internals leak: {body}"
    );

    switch.set(true);
    // The pool replaces broken connections on demand; no restart needed. A connection that
    // was cut may fail one more request before it is discarded.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..5 {
        status = app.get(&session.access, "/users").await.status();
        if status == StatusCode::OK {
            break;
        }
    }
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn with_postgres_unreachable_requests_are_answered_503_within_the_acquire_timeout(
    pool: PgPool,
) {
    let switch = Switch::start().await;
    // The pool as a deployed auth service builds it, with its default acquire timeout.
    let url = (*pool.connect_options())
        .clone()
        .host("127.0.0.1")
        .port(switch.port)
        .to_url_lossy();
    let config = DbConfig::for_service("auth", url.as_str());
    let timeout = config.acquire_timeout;
    assert!(
        timeout <= std::time::Duration::from_secs(1),
        "fail fast by default: {timeout:?}"
    );
    let proxied = temponest_db::connect_lazy(&config).unwrap();
    let app = spawn_with(proxied, Options::default()).await;
    let session = app.signup("ada@example.com").await;
    app.fetch(&session.access, "/users").await;

    for outage in [Outage::Refused, Outage::BlackHole] {
        switch.fail(outage);
        for attempt in 0..2 {
            let started = Instant::now();
            let resp = app.get(&session.access, "/users").await;
            let took = started.elapsed();
            assert_eq!(
                resp.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{outage:?} #{attempt}"
            );
            assert_eq!(resp.headers()["retry-after"], "1", "{outage:?} #{attempt}");
            assert!(
                took < 3 * timeout,
                "{outage:?} #{attempt}: answered after {took:?} (acquire timeout {timeout:?})"
            );
        }
    }
}
