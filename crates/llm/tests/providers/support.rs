//! Test support: scripted fake provider servers on 127.0.0.1, provider construction, delta
//! collection and deadline-bounded polling.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use temponest_llm::{
    ChatRequest, ChatResponse, LlmError, Provider, ProviderConfig, ProviderKind, Providers,
    ToolCall, Usage,
};
use tokio::sync::mpsc;

/// A request as the fake server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    /// The JSON body (`Null` if it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the body of a scripted reply is sent.
#[derive(Clone)]
enum ReplyBody {
    Full(Vec<u8>),
    /// Each piece as its own write, with a short pause in between so the client really sees
    /// separate chunks; `stall` keeps the response open forever afterwards.
    Chunks {
        pieces: Vec<Vec<u8>>,
        stall: bool,
    },
}

/// One scripted response.
#[derive(Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
}

impl Reply {
    pub fn json(status: u16, value: Value) -> Self {
        Self::raw(status, "application/json", value.to_string().into_bytes())
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: ReplyBody::Full(body.into()),
        }
    }

    /// A 200 streamed as these pieces (byte boundaries exactly as given).
    pub fn chunks(content_type: &str, pieces: Vec<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: ReplyBody::Chunks {
                pieces,
                stall: false,
            },
        }
    }

    /// Like [`Reply::chunks`], then never finishes.
    pub fn chunks_then_stall(content_type: &str, pieces: Vec<Vec<u8>>) -> Self {
        Self {
            body: ReplyBody::Chunks {
                pieces,
                stall: true,
            },
            ..Self::chunks(content_type, Vec::new())
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn into_response(self) -> Response {
        let body = match self.body {
            ReplyBody::Full(bytes) => Body::from(bytes),
            ReplyBody::Chunks { pieces, stall } => {
                // Each piece is its own body frame (hyper writes them separately); yielding
                // between them lets the client read them as they come. Awkward splits are
                // covered exhaustively by the framing unit tests.
                let stream = futures::stream::iter(pieces).then(|piece| async move {
                    tokio::task::yield_now().await;
                    Ok::<_, Infallible>(Bytes::from(piece))
                });
                if stall {
                    Body::from_stream(stream.chain(futures::stream::pending()))
                } else {
                    Body::from_stream(stream)
                }
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap();
        for (name, value) in self.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        response
    }
}

struct Script {
    replies: Vec<Reply>,
    requests: Mutex<Vec<Recorded>>,
}

/// A fake provider answering request `n` with reply `n` (the last reply repeats).
pub struct FakeServer {
    pub url: String,
    script: Arc<Script>,
}

impl FakeServer {
    /// A server that answers every request with `piece` (as `content_type`), then stalls;
    /// the returned config reads with a 1 s timeout.
    pub async fn stalling(
        kind: ProviderKind,
        content_type: &str,
        piece: &str,
    ) -> (Self, ProviderConfig) {
        let server = Self::start(vec![Reply::chunks_then_stall(
            content_type,
            pieces(&[piece]),
        )])
        .await;
        let mut config = config(kind, &server.url);
        config.read_timeout_secs = 1;
        (server, config)
    }

    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Script {
            replies,
            requests: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(scripted).with_state(script.clone());
        Self {
            url: serve(router).await,
            script,
        }
    }

    /// A server that answers every request with `status` and the JSON `body`.
    pub async fn replying(status: u16, body: Value) -> Self {
        Self::start(vec![Reply::json(status, body)]).await
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.script.requests.lock().unwrap().len()
    }

    /// The only request received (asserting there was exactly one).
    pub fn single(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.into_iter().next().unwrap()
    }
}

async fn scripted(State(script): State<Arc<Script>>, request: Request) -> Response {
    let recorded = record(request).await;
    let index = {
        let mut requests = script.requests.lock().unwrap();
        requests.push(recorded);
        requests.len() - 1
    };
    let reply = script.replies[index.min(script.replies.len() - 1)].clone();
    reply.into_response()
}

/// Reads and records a request.
pub async fn record(request: Request) -> Recorded {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    Recorded {
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Serves `router` on an ephemeral port; returns `http://127.0.0.1:<port>`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// The shared HTTP client, as the service builds it.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A test configuration: key set, fast backoff, generous timeouts.
pub fn config(kind: ProviderKind, base_url: &str) -> ProviderConfig {
    ProviderConfig {
        base_url: base_url.to_owned(),
        api_key: Some("test-key".into()),
        backoff_base_ms: 1,
        backoff_max_ms: 5_000,
        connect_timeout_secs: 5,
        read_timeout_secs: 10,
        ..ProviderConfig::new(kind)
    }
}

/// A registry with one provider, `name`.
pub fn registry(name: &str, config: ProviderConfig) -> Providers {
    let configs = BTreeMap::from([(name.to_owned(), config)]);
    Providers::from_config(&configs, client()).unwrap()
}

/// The provider built from `config` (named after its kind).
pub fn provider(config: ProviderConfig) -> Arc<dyn Provider> {
    let name = config.kind.as_str();
    registry(name, config).get(name).unwrap()
}

/// A `kind` provider at `base_url` with the test [`config`] answers `request` (not streamed).
pub async fn chat_at(
    kind: ProviderKind,
    base_url: &str,
    request: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    provider(config(kind, base_url)).chat(request, None).await
}

/// Runs a streaming call, collecting the deltas.
pub async fn chat_streaming(
    provider: &dyn Provider,
    request: &ChatRequest,
) -> (Result<ChatResponse, LlmError>, Vec<String>) {
    // A small buffer, so backpressure is part of every streaming test.
    let (tx, mut rx) = mpsc::channel(2);
    let collect = async move {
        let mut deltas = Vec::new();
        while let Some(delta) = rx.recv().await {
            deltas.push(delta);
        }
        deltas
    };
    tokio::join!(provider.chat(request, Some(tx)), collect)
}

/// SSE pieces: each string is one network write.
pub fn pieces(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// Network writes: `before`'s strings, then `raw`'s bytes (not UTF-8 on their own: a
/// character cut between two writes), then `after`'s strings.
pub fn pieces_around(before: &[&str], raw: &[&[u8]], after: &[&str]) -> Vec<Vec<u8>> {
    let mut chunks = pieces(before);
    chunks.extend(raw.iter().map(|bytes| bytes.to_vec()));
    chunks.extend(pieces(after));
    chunks
}

/// A tool call named `name` with the provider's `id`.
pub fn call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
    }
}

/// Asserts how a response ended: its tool `calls`, its usage (`(prompt, completion)` tokens)
/// and its finish reason.
pub fn assert_ending(response: &ChatResponse, calls: &[ToolCall], usage: (u32, u32), finish: &str) {
    assert_eq!(response.tool_calls, calls, "tool calls");
    let (prompt_tokens, completion_tokens) = usage;
    let usage = Usage {
        prompt_tokens,
        completion_tokens,
    };
    assert_eq!(response.usage, Some(usage), "usage");
    assert_eq!(
        response.finish_reason.as_deref(),
        Some(finish),
        "finish reason"
    );
}

/// Polls `condition` (yielding to other tasks) until it holds; panics after 10 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
    }
}
