//! A deterministic local embedding server speaking both protocols — OpenAI-compatible
//! `POST /v1/embeddings` and Ollama `POST /api/embed` — for tests of the semantic path.
//!
//! - Vectors come from the text: a hashed bag of words (lower-cased alphanumeric tokens, each
//!   adding ±1 to one of `dims` components), L2-normalised, so texts sharing words are near
//!   and the same text always gets the same vector ([`deterministic_embedding`]).
//! - The OpenAI answer lists `data` in reverse order (with correct `index` fields), as the
//!   protocol allows, so a client that ignores `index` is caught.
//! - Scriptable [`Fault`]s, consumed one per request in arrival order, then normal answers.
//! - A request log ([`EmbeddingServer::requests`]) and the high-water mark of requests in
//!   flight at once; with a `gate`, requests are held until that many are in flight together
//!   (then the gate stays open), so a concurrency limit is observable without sleeps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// How long a gated request waits for the gate before going ahead anyway (so a client that
/// never reaches the expected concurrency fails its assertion instead of hanging).
const GATE_DEADLINE: Duration = Duration::from_secs(10);

/// A scripted misbehaviour for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status and a JSON error body.
    Status(u16),
    /// 429 with this `Retry-After` value (e.g. `"0.3"` or `"120"`).
    RateLimited(String),
    /// Leave out the last vector.
    DropLast,
    /// Make the last vector one component short.
    ShortLast,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// `/v1/embeddings` or `/api/embed`.
    pub path: String,
    pub model: String,
    pub input: Vec<String>,
    pub authorization: Option<String>,
    pub received_at: Instant,
    /// The status answered.
    pub status: u16,
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct EmbeddingServerOptions {
    pub dims: usize,
    pub faults: Vec<Fault>,
    /// Hold requests until this many are in flight at once (see the module documentation).
    pub gate: Option<usize>,
}

impl Default for EmbeddingServerOptions {
    fn default() -> Self {
        Self {
            dims: 64,
            faults: Vec::new(),
            gate: None,
        }
    }
}

struct Shared {
    dims: usize,
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<LoggedRequest>>,
    arrivals: AtomicUsize,
    in_flight: AtomicUsize,
    high_water: AtomicUsize,
    gate: Option<usize>,
    gate_open: Mutex<bool>,
    gate_changed: Notify,
}

/// A running server; it stops with the test's runtime.
pub struct EmbeddingServer {
    /// `http://127.0.0.1:port`.
    pub base: String,
    shared: Arc<Shared>,
}

impl EmbeddingServer {
    /// A well-behaved server producing `dims`-dimensional vectors.
    pub async fn start(dims: usize) -> Self {
        Self::start_with(EmbeddingServerOptions {
            dims,
            ..EmbeddingServerOptions::default()
        })
        .await
    }

    /// A server producing `dims`-dimensional vectors that answers with `faults` first, one a
    /// request, and well afterwards.
    pub async fn faulty(dims: usize, faults: Vec<Fault>) -> Self {
        Self::start_with(EmbeddingServerOptions {
            dims,
            faults,
            gate: None,
        })
        .await
    }

    /// A server producing `dims`-dimensional vectors that holds requests until `gate` are in
    /// flight at once.
    pub async fn gated(dims: usize, gate: usize) -> Self {
        Self::start_with(EmbeddingServerOptions {
            dims,
            faults: Vec::new(),
            gate: Some(gate),
        })
        .await
    }

    pub async fn start_with(options: EmbeddingServerOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        Self::serve(listener, options)
    }

    /// A well-behaved server on `127.0.0.1:port` (a process serving benchmarks).
    pub async fn start_on(port: u16, dims: usize) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        Self::serve(
            listener,
            EmbeddingServerOptions {
                dims,
                ..EmbeddingServerOptions::default()
            },
        )
    }

    fn serve(listener: tokio::net::TcpListener, options: EmbeddingServerOptions) -> Self {
        let shared = Arc::new(Shared {
            dims: options.dims,
            faults: Mutex::new(options.faults.into()),
            log: Mutex::default(),
            arrivals: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            gate: options.gate,
            gate_open: Mutex::new(options.gate.is_none()),
            gate_changed: Notify::new(),
        });
        let app = Router::new()
            .route("/v1/embeddings", post(openai))
            .route("/api/embed", post(ollama))
            .with_state(shared.clone());
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, shared }
    }

    /// The base URL for an OpenAI-compatible client (`…/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// The base URL for an Ollama client.
    pub fn ollama_base_url(&self) -> String {
        self.base.clone()
    }

    /// Requests received so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().expect("the log").clone()
    }

    /// Requests that arrived, including ones still held or abandoned by their client (the log
    /// has only the answered ones).
    pub fn arrivals(&self) -> usize {
        self.shared.arrivals.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight at the same time.
    pub fn high_water(&self) -> usize {
        self.shared.high_water.load(Ordering::SeqCst)
    }

    /// The vector this server gives `text`.
    pub fn embedding(&self, text: &str) -> Vec<f32> {
        deterministic_embedding(text, self.shared.dims)
    }
}

/// The hashed bag-of-words vector of `text` in `dims` dimensions, L2-normalised (a text
/// without words gets the first unit vector).
pub fn deterministic_embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dims];
    for token in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        // FNV-1a: stable across runs and platforms.
        let hash = token
            .to_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[(hash % dims as u64) as usize] += sign;
    }
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm == 0.0 {
        vector[0] = 1.0;
    } else {
        vector.iter_mut().for_each(|v| *v /= norm);
    }
    vector
}

/// Counts the request in flight while alive.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> Self {
        shared.arrivals.fetch_add(1, Ordering::SeqCst);
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.high_water.fetch_max(now, Ordering::SeqCst);
        if shared.gate.is_some_and(|gate| now >= gate) {
            *shared.gate_open.lock().expect("the gate") = true;
            shared.gate_changed.notify_waiters();
        }
        Self(shared.clone())
    }

    async fn pass_gate(&self) {
        let deadline = tokio::time::Instant::now() + GATE_DEADLINE;
        loop {
            let changed = self.0.gate_changed.notified();
            if *self.0.gate_open.lock().expect("the gate") {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn openai(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    answer(shared, "/v1/embeddings", headers, body.0, |mut vectors| {
        let data: Vec<Value> = vectors
            .drain(..)
            .enumerate()
            .rev()
            .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
            .collect();
        json!({"object": "list", "data": data, "model": "fake", "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    })
    .await
}

async fn ollama(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    answer(
        shared,
        "/api/embed",
        headers,
        body.0,
        |vectors| json!({"model": "fake", "embeddings": vectors}),
    )
    .await
}

async fn answer(
    shared: Arc<Shared>,
    path: &str,
    headers: HeaderMap,
    body: Value,
    render: impl FnOnce(Vec<Vec<f32>>) -> Value,
) -> Response {
    let in_flight = InFlight::enter(&shared);
    let received_at = Instant::now();
    in_flight.pass_gate().await;
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let input: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let fault = shared.faults.lock().expect("the faults").pop_front();
    let mut vectors: Vec<Vec<f32>> = input
        .iter()
        .map(|text| deterministic_embedding(text, shared.dims))
        .collect();
    let response = match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).expect("a valid status");
            let body = json!({"error": {"message": format!("scripted failure {code}")}});
            (status, axum::Json(body)).into_response()
        }
        Some(Fault::RateLimited(retry_after)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after)],
            axum::Json(json!({"error": {"message": "slow down"}})),
        )
            .into_response(),
        other => {
            if other == Some(Fault::DropLast) {
                vectors.pop();
            }
            if other == Some(Fault::ShortLast)
                && let Some(last) = vectors.last_mut()
            {
                last.pop();
            }
            if model.is_empty() {
                let body = json!({"error": {"message": "model is required"}});
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
            } else {
                axum::Json(render(vectors)).into_response()
            }
        }
    };
    shared.log.lock().expect("the log").push(LoggedRequest {
        path: path.to_owned(),
        model,
        input,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        received_at,
        status: response.status().as_u16(),
    });
    drop(in_flight);
    response
}
