//! Idempotency-Key behaviour against a real Postgres, driven through a small router.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_idempotency::{Idempotency, REPLAYED, layer};
use temponest_ratelimit::ClientIdentity;
use tokio::sync::Notify;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Counters {
    created: Arc<AtomicUsize>,
    flaky_calls: Arc<AtomicUsize>,
    slow_calls: Arc<AtomicUsize>,
    gate: Arc<Notify>,
}

fn app(pool: PgPool, counters: Counters) -> Router {
    app_with(Idempotency::new(pool), counters)
}

fn app_with(idempotency: Idempotency, counters: Counters) -> Router {
    let routes = Router::new()
        .route(
            "/things",
            post(|State(c): State<Counters>, body: String| async move {
                let n = c.created.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    StatusCode::CREATED,
                    [("location", format!("/things/{n}"))],
                    axum::Json(json!({"n": n, "echo": body})),
                )
            }),
        )
        .route(
            "/flaky",
            post(|State(c): State<Counters>| async move {
                if c.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    (StatusCode::CREATED, "ok").into_response()
                }
            }),
        )
        .route(
            "/slow",
            post(|State(c): State<Counters>| async move {
                c.slow_calls.fetch_add(1, Ordering::SeqCst);
                c.gate.notified().await;
                StatusCode::CREATED
            }),
        )
        .with_state(counters);
    layer(routes, idempotency)
}

fn request(path: &str, key: Option<&str>, body: &str, user: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    let mut req = builder.body(Body::from(body.to_owned())).unwrap();
    if let Some(user) = user {
        req.extensions_mut().insert(ClientIdentity {
            user_id: Some(user.into()),
            ..ClientIdentity::default()
        });
    }
    req
}

/// Starts `POST /slow` (key `k`, user `u`) in the background; its handler blocks on the gate.
fn start_slow_request(
    app: &Router,
) -> tokio::task::JoinHandle<(StatusCode, axum::http::HeaderMap, Value)> {
    let app = app.clone();
    tokio::spawn(async move { send(&app, request("/slow", Some("k"), "{}", Some("u"))).await })
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_repeat_with_the_same_key_and_body_replays_the_first_response(pool: PgPool) {
    let counters = Counters::default();
    let app = app(pool, counters.clone());
    let thing = |key, user| request("/things", key, r#"{"a":1}"#, user);
    let first = send(&app, thing(Some("k1"), Some("u1"))).await;
    let again = send(&app, thing(Some("k1"), Some("u1"))).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!((again.0, &again.2), (first.0, &first.2));
    assert_eq!(again.1["location"], "/things/1");
    assert_eq!(again.1[REPLAYED], "true");
    assert!(first.1.get(REPLAYED).is_none());
    assert_eq!(
        counters.created.load(Ordering::SeqCst),
        1,
        "the handler ran once"
    );

    // Without a key, or with another key, or as another caller, the request runs again.
    send(&app, thing(None, Some("u1"))).await;
    send(&app, thing(Some("k2"), Some("u1"))).await;
    let other_user = send(&app, thing(Some("k1"), Some("u2"))).await;
    assert_eq!(other_user.2["n"], 4);
    assert_eq!(counters.created.load(Ordering::SeqCst), 4);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn reusing_a_key_for_a_different_body_is_refused(pool: PgPool) {
    let app = app(pool, Counters::default());
    send(&app, request("/things", Some("k"), r#"{"a":1}"#, Some("u"))).await;
    let (status, _, body) =
        send(&app, request("/things", Some("k"), r#"{"a":2}"#, Some("u"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_key_reused");
    let (status, _, body) = send(
        &app,
        request("/things", Some("bad key with spaces"), "{}", Some("u")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("Idempotency-Key"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn server_errors_are_not_remembered_so_a_retry_runs_again(pool: PgPool) {
    let counters = Counters::default();
    let app = app(pool, counters.clone());
    let (status, _, _) = send(&app, request("/flaky", Some("k"), "{}", Some("u"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, headers, _) = send(&app, request("/flaky", Some("k"), "{}", Some("u"))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get(REPLAYED).is_none());
    let (status, headers, _) = send(&app, request("/flaky", Some("k"), "{}", Some("u"))).await;
    assert_eq!(
        (status, headers[REPLAYED].to_str().unwrap()),
        (StatusCode::CREATED, "true")
    );
    assert_eq!(counters.flaky_calls.load(Ordering::SeqCst), 2);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_repeat_while_the_first_is_running_is_told_to_retry(pool: PgPool) {
    let counters = Counters::default();
    let app = app(pool.clone(), counters.clone());
    let first = start_slow_request(&app);
    // Wait (bounded) until the first request has claimed the key; it then blocks on the gate.
    let claimed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let n: i64 = sqlx::query_scalar(
                "select count(*) from platform.idempotency_keys where key = 'k'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if n == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(claimed.is_ok(), "the first request never claimed its key");
    let repeat = send(&app, request("/slow", Some("k"), "{}", Some("u"))).await;
    assert_eq!(repeat.0, StatusCode::CONFLICT);
    assert_eq!(repeat.1["retry-after"], "1");
    counters.gate.notify_one();
    assert_eq!(first.await.unwrap().0, StatusCode::CREATED);
    let replay = send(&app, request("/slow", Some("k"), "{}", Some("u"))).await;
    assert_eq!(replay.1[REPLAYED], "true");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn keys_expire_after_their_ttl(pool: PgPool) {
    let counters = Counters::default();
    let app = app(pool.clone(), counters.clone());
    send(&app, request("/things", Some("k"), "{}", Some("u"))).await;
    sqlx::query("update platform.idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let (_, headers, body) = send(&app, request("/things", Some("k"), "{}", Some("u"))).await;
    assert!(headers.get(REPLAYED).is_none());
    assert_eq!(body["n"], 2);
}

/// Waits (bounded) until `sql` over the key's row is true.
async fn until_row(pool: &PgPool, sql: &'static str) -> bool {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let done: Option<bool> = sqlx::query_scalar(sql).fetch_optional(pool).await.unwrap();
            if done == Some(true) {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .is_ok()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_slow_first_request_keeps_its_key_for_as_long_as_it_runs(pool: PgPool) {
    let counters = Counters::default();
    let mut idempotency = Idempotency::new(pool.clone());
    idempotency.in_flight_timeout = std::time::Duration::from_millis(600);
    let app = app_with(idempotency, counters.clone());
    let first = start_slow_request(&app);
    // Well past the in-flight timeout, and the first request has heartbeated since.
    assert!(
        until_row(
            &pool,
            "select created_at < now() - interval '1.5 seconds'
                    and heartbeat_at > created_at + interval '1 second'
             from platform.idempotency_keys where key = 'k'"
        )
        .await,
        "the running request did not keep its key alive"
    );
    let repeat = send(&app, request("/slow", Some("k"), "{}", Some("u"))).await;
    assert_eq!(
        repeat.0,
        StatusCode::CONFLICT,
        "a live request's key was taken over"
    );
    assert_eq!(counters.slow_calls.load(Ordering::SeqCst), 1);
    counters.gate.notify_one();
    assert_eq!(first.await.unwrap().0, StatusCode::CREATED);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_request_whose_client_went_away_finishes_and_its_response_is_replayed(pool: PgPool) {
    let counters = Counters::default();
    let app = app(pool.clone(), counters.clone());
    let first = start_slow_request(&app);
    // Wait (bounded) until the handler runs; it then blocks on the gate.
    let running = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while counters.slow_calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        running.is_ok(),
        "the first request never reached its handler"
    );
    // The client disconnects: its request future is dropped.
    first.abort();
    let _ = first.await;
    counters.gate.notify_one();
    assert!(
        until_row(
            &pool,
            "select coalesce(status = 201, false) from platform.idempotency_keys where key = 'k'"
        )
        .await,
        "the abandoned request never finished"
    );
    let retry = send(&app, request("/slow", Some("k"), "{}", Some("u"))).await;
    assert_eq!(retry.0, StatusCode::CREATED);
    assert_eq!(retry.1[REPLAYED], "true");
    assert_eq!(counters.slow_calls.load(Ordering::SeqCst), 1, "it ran once");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn anonymous_callers_behind_the_proxy_and_tenants_of_a_service_have_their_own_keys(
    pool: PgPool,
) {
    let counters = Counters::default();
    let app = app_with(
        Idempotency::new(pool).trusting_forwarded_for(true),
        counters.clone(),
    );
    for client in ["203.0.113.7", "198.51.100.9"] {
        let mut req = request("/things", Some("k"), "{}", None);
        req.headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        let (status, headers, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(
            headers.get(REPLAYED).is_none(),
            "{client} got another client's response"
        );
    }
    for tenant in ["tenant-a", "tenant-b"] {
        let mut req = request("/things", Some("svc"), "{}", None);
        req.extensions_mut().insert(ClientIdentity {
            user_id: Some("scheduler-subject".into()),
            tenant_id: Some(tenant.into()),
            internal: true,
            ..ClientIdentity::default()
        });
        let (_, headers, _) = send(&app, req).await;
        assert!(
            headers.get(REPLAYED).is_none(),
            "{tenant} got another tenant's response"
        );
    }
    assert_eq!(counters.created.load(Ordering::SeqCst), 4);
}

/// The platform applies the layer around the 404 fallback too (one route layer for
/// everything): an unknown path's answer is not a response to remember.
#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_post_with_a_key_to_an_unknown_path_is_not_remembered(pool: PgPool) {
    let fallbacks = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/things", post(|| async { StatusCode::CREATED }))
        .fallback({
            let fallbacks = Arc::clone(&fallbacks);
            move || async move {
                fallbacks.fetch_add(1, Ordering::SeqCst);
                StatusCode::NOT_FOUND
            }
        })
        .layer(temponest_idempotency::IdempotencyLayer::new(
            Idempotency::new(pool.clone()),
        ));
    for _ in 0..2 {
        let (status, headers, _) = send(&app, request("/nowhere", Some("k"), "{}", None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(REPLAYED).is_none());
    }
    assert_eq!(
        fallbacks.load(Ordering::SeqCst),
        2,
        "the fallback ran each time"
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from platform.idempotency_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "no key was claimed");
    // The same key on a route is remembered.
    let first = send(&app, request("/things", Some("k"), "{}", None)).await;
    let again = send(&app, request("/things", Some("k"), "{}", None)).await;
    assert_eq!(
        (first.0, again.0),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(again.1[REPLAYED], "true");
}
