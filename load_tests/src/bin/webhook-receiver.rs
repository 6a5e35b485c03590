//! A local webhook receiver for `run.sh webhooks-bench`: answers 200 to every POST (any path,
//! e.g. `/e/1` … `/e/K`, one per endpoint) and records, per request, the `webhook-id` header
//! and the receive time (unix nanoseconds from the system clock, taken when the request head
//! has arrived, before the body is read).
//!
//!   webhook-receiver [PORT]           (default 19900, 127.0.0.1 only)
//!
//!   GET  /count   number of requests received
//!   GET  /dump    CSV lines `webhook_id,received_unix_ns` (no header)
//!   POST /reset   forget everything received so far

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

#[derive(Default)]
struct Received {
    count: AtomicU64,
    rows: Mutex<Vec<(String, u128)>>,
}

type Shared = std::sync::Arc<Received>;

async fn receive(State(received): State<Shared>, req: Request) -> StatusCode {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let (parts, body) = req.into_parts();
    // Read the body so the connection stays reusable (keep-alive).
    let _ = to_bytes(body, 1 << 20).await;
    let id = parts
        .headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    received.rows.lock().unwrap().push((id, now));
    received.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

async fn count(State(received): State<Shared>) -> String {
    received.count.load(Ordering::Relaxed).to_string()
}

async fn dump(State(received): State<Shared>) -> Body {
    let rows = received.rows.lock().unwrap();
    let mut out = String::with_capacity(rows.len() * 56);
    for (id, ns) in rows.iter() {
        let _ = writeln!(out, "{id},{ns}");
    }
    Body::from(out)
}

async fn reset(State(received): State<Shared>) -> StatusCode {
    let mut rows = received.rows.lock().unwrap();
    rows.clear();
    received.count.store(0, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

fn main() {
    let port: u16 = std::env::args().nth(1).map_or(19900, |p| p.parse().expect("PORT"));
    // One worker thread: the server, Postgres and the publisher share the machine's cores.
    let threads = std::env::var("RECEIVER_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let received: Shared = Default::default();
        let app = Router::new()
            .route("/count", get(count))
            .route("/dump", get(dump))
            .route("/reset", post(reset))
            .fallback(post(receive))
            .with_state(received);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        eprintln!("webhook-receiver listening on 127.0.0.1:{port}");
        axum::serve(listener, app).await.expect("serve");
    });
}
