//! Test support for delivery tests: a scriptable local webhook receiver (axum on 127.0.0.1:0)
//! that records every request, an independent Standard Webhooks verifier (hmac/sha2/base64
//! directly, not the service's signing module) and SQL fixtures for endpoints and events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;
use temponest_test_client::serve;
use tokio::sync::Notify;
use uuid::Uuid;

/// How the receiver answers a request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    TooMany(u64),
    /// 302 to this location.
    Redirect(String),
    /// Never answers.
    Hang,
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    arrived: Notify,
}

/// A running receiver; answers 200 unless scripted otherwise.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub port: u16,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let inner = shared.clone();
            async move { answer(&inner, headers, body).await }
        });
        let port = serve(app).await.port();
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            inner,
        }
    }

    /// The next requests get these replies, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// Requests beyond the script get this reply (default 200).
    pub fn otherwise(&self, reply: Reply) {
        *self.inner.fallback.lock().unwrap() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }

    /// Waits (at most 15 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> bool {
        tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                let arrived = self.inner.arrived.notified();
                if self.count() >= n {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .is_ok()
    }
}

async fn answer(inner: &Inner, headers: HeaderMap, body: Bytes) -> Response {
    inner
        .requests
        .lock()
        .unwrap()
        .push(Recorded { headers, body });
    inner.arrived.notify_waiters();
    let reply = inner.script.lock().unwrap().pop_front();
    let reply = reply.or_else(|| inner.fallback.lock().unwrap().clone());
    match reply {
        None => StatusCode::OK.into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Reply::TooMany(secs)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Some(Reply::Redirect(to)) => (StatusCode::FOUND, [("location", to)]).into_response(),
        Some(Reply::Hang) => std::future::pending().await,
    }
}

/// Verifies a request the way a Standard Webhooks receiver does, with `whsec_<base64>`.
pub fn verify(secret: &str, request: &Recorded) -> Result<(), String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("no whsec_ prefix")?)
        .map_err(|e| e.to_string())?;
    let id = request.header("webhook-id");
    let timestamp = request.header("webhook-timestamp");
    if id.is_empty() {
        return Err("no webhook-id".into());
    }
    let ts: i64 = timestamp.parse().map_err(|_| "bad webhook-timestamp")?;
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return Err("timestamp outside tolerance".into());
    }
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    for entry in request.header("webhook-signature").split(' ') {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(signature) = STANDARD.decode(encoded) else {
            continue;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(&signed);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err("no signature matches".into())
}

/// A random secret, as the `whsec_` string and the raw bytes.
pub fn secret() -> (String, Vec<u8>) {
    let bytes: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    (format!("whsec_{}", STANDARD.encode(&bytes)), bytes)
}

/// Inserts an active endpoint with a fresh secret; returns its id and `whsec_` secret.
pub async fn endpoint(
    pool: &PgPool,
    tenant: Uuid,
    url: &str,
    events: &[&str],
    max_retries: i32,
) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    sqlx::query(
        "insert into webhooks.endpoints
             (id, tenant_id, name, url, events, max_retries, retry_delay_seconds, headers)
         values ($1, $2, 'test', $3, $4, $5, 1, '{\"x-static\": \"yes\"}')",
    )
    .bind(id)
    .bind(tenant)
    .bind(url)
    .bind(&events)
    .bind(max_retries)
    .execute(pool)
    .await
    .unwrap();
    let (text, bytes) = secret();
    let mut conn = pool.acquire().await.unwrap();
    temponest_webhooks::db::secrets::insert_current(&mut conn, id, &bytes, false)
        .await
        .unwrap();
    (id, text)
}

/// Publishes an event through the outbox (committed); returns its id.
pub async fn publish(pool: &PgPool, tenant: Uuid, event_type: &str, payload: Value) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = temponest_outbox::publish(&mut tx, tenant, event_type, &payload)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A delivery's state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub status: String,
    pub outcome: Option<String>,
    pub attempt_count: i32,
    pub error_class: Option<String>,
    pub response_status: Option<i32>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The endpoint's deliveries, oldest first.
pub async fn deliveries(pool: &PgPool, endpoint: Uuid) -> Vec<Delivery> {
    sqlx::query_as(
        "select id, event_id, status, outcome, attempt_count, error_class, response_status,
                next_attempt_at, delivered_at
         from webhooks.deliveries where endpoint_id = $1 order by created_at, event_id",
    )
    .bind(endpoint)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits until every delivery of the endpoint (at least `n`) is final (success or failed).
pub async fn settled(pool: &PgPool, endpoint: Uuid, n: usize) -> Vec<Delivery> {
    let done = crate::helpers::eventually(|| async {
        let rows = deliveries(pool, endpoint).await;
        rows.len() >= n
            && rows
                .iter()
                .all(|d| d.status == "success" || d.status == "failed")
    })
    .await;
    let rows = deliveries(pool, endpoint).await;
    assert!(done, "deliveries did not settle: {rows:#?}");
    rows
}

/// A connection listening on the channel that wakes the senders.
pub async fn senders_listener(pool: &PgPool) -> sqlx::postgres::PgListener {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener
        .listen(temponest_webhooks::db::queue::DELIVERIES_CHANNEL)
        .await
        .unwrap();
    listener
}

/// Waits (up to 5 s) for the senders to be woken.
pub async fn assert_senders_woken(listener: &mut sqlx::postgres::PgListener) {
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("the senders are woken")
        .unwrap();
    assert_eq!(note.channel(), "webhooks_deliveries");
}
