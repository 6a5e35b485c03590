//! A local OpenAI-compatible chat-completions server driven by a script: plain JSON and SSE
//! chunk streaming (text split into several chunks, tool calls with arguments split across
//! chunks, the usage chunk), replies that hang until the client goes away, and replies held
//! until the test opens a gate (with the high-water mark of requests in flight, which proves
//! that calls overlapped without timing anything). A script is a list of replies in order, or
//! a function of the request (for calls whose order is not fixed).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use temponest_test_client::serve;
use tokio::sync::Notify;

/// One scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    Text(String),
    /// A call of `name` with these arguments.
    Tool(String, Value),
    /// Streams `partial` (when streaming), then never finishes; the server notices when the
    /// client closes the connection.
    Hang(String),
    /// Answers this text once the gate is open ([`FakeLlm::open_gate`]); non-streaming only.
    Held(String),
}

/// A script as a function of the request's index and body.
pub type Responder = dyn Fn(usize, &Value) -> Reply + Send + Sync;

/// The content of the last message of a chat request (what the agent was asked).
pub fn last_message(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[derive(Clone)]
struct Shared {
    script: Arc<Responder>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    /// Requests being answered now, and the most at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
    requests: Arc<Mutex<Vec<Value>>>,
    received: Arc<Notify>,
    closed: Arc<Notify>,
    usage: Option<(u32, u32)>,
}

/// A running fake.
pub struct FakeLlm {
    /// `http://127.0.0.1:port/v1` (the OpenAI base URL convention).
    pub base_url: String,
    shared: Shared,
}

impl FakeLlm {
    /// Serves `script` in order (the last reply repeats), reporting `usage` tokens.
    pub async fn start(script: Vec<Reply>, usage: Option<(u32, u32)>) -> Self {
        Self::respond(
            move |index, _| {
                script
                    .get(index)
                    .or_else(|| script.last())
                    .cloned()
                    .expect("a script")
            },
            usage,
        )
        .await
    }

    /// Answers each request with `script(index, body)`, reporting `usage` tokens.
    pub async fn respond(
        script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
        usage: Option<(u32, u32)>,
    ) -> Self {
        let shared = Shared {
            script: Arc::new(script),
            gate: Arc::new(tokio::sync::watch::channel(false).0),
            in_flight: Arc::default(),
            requests: Arc::default(),
            received: Arc::default(),
            closed: Arc::default(),
            usage,
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let base_url = format!("http://{}/v1", serve(app).await);
        Self { base_url, shared }
    }

    /// The test configuration with this fake as the `openai` provider.
    pub fn config(&self) -> temponest_agents::AgentsConfig {
        crate::helpers::config(&[(
            "openai",
            crate::helpers::provider(
                temponest_llm::ProviderKind::OpenAi,
                &self.base_url,
                Some("sk-test"),
            ),
        )])
    }

    /// Request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until a request has been received (registered before the check, so no wake-up
    /// is lost).
    pub async fn wait_for_request(&self) {
        loop {
            let notified = self.shared.received.notified();
            if !self.requests().is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until `n` requests have been received.
    pub async fn wait_for_requests(&self, n: usize) {
        loop {
            let notified = self.shared.received.notified();
            if self.requests().len() >= n {
                return;
            }
            notified.await;
        }
    }

    /// Waits until `n` requests are being answered at once.
    pub async fn wait_for_in_flight(&self, n: usize) {
        loop {
            let notified = self.shared.received.notified();
            if self.shared.in_flight.lock().unwrap().0 >= n {
                return;
            }
            notified.await;
        }
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.in_flight.lock().unwrap().1
    }

    /// Lets every held reply (and every later one) answer.
    pub fn open_gate(&self) {
        self.shared.gate.send_replace(true);
    }

    /// Resolves when a hanging reply's client has gone away.
    pub fn closed(&self) -> Arc<Notify> {
        self.shared.closed.clone()
    }
}

/// Waits (at most 10 s) until `closed` (from [`FakeLlm::closed`]) is notified: a hanging reply's
/// client went away; fails the test with `what` otherwise.
pub async fn aborted(closed: &Notify, what: &str) {
    tokio::time::timeout(Duration::from_secs(10), closed.notified())
        .await
        .expect(what);
}

/// Notifies when dropped: hyper drops the response body (or the handler) when the client
/// disconnects.
struct OnClose(Arc<Notify>);

impl Drop for OnClose {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Counts a request out of the in-flight figure when its handler ends (or is dropped).
struct InFlight(Arc<Mutex<(usize, usize)>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}

async fn chat(State(shared): State<Shared>, body: axum::Json<Value>) -> Response {
    let body = body.0;
    let index = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(body.clone());
        let mut in_flight = shared.in_flight.lock().unwrap();
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
        requests.len() - 1
    };
    let _in_flight = InFlight(shared.in_flight.clone());
    shared.received.notify_waiters();
    let reply = (shared.script)(index, &body);
    let reply = match reply {
        Reply::Held(text) => {
            let mut gate = shared.gate.subscribe();
            let _ = gate.wait_for(|open| *open).await;
            Reply::Text(text)
        }
        other => other,
    };
    let (prompt, completion) = shared.usage.unwrap_or((0, 0));
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    let streaming = body["stream"].as_bool().unwrap_or(false);
    if !streaming {
        let message = match &reply {
            Reply::Text(text) => json!({"role": "assistant", "content": text}),
            Reply::Tool(name, arguments) => {
                json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": format!("call_{index}"), "type": "function",
                 "function": {"name": name, "arguments": arguments.to_string()}}]})
            }
            Reply::Hang(_) => {
                let _guard = OnClose(shared.closed.clone());
                std::future::pending::<()>().await;
                unreachable!()
            }
            Reply::Held(_) => unreachable!("answered above"),
        };
        let finish = if matches!(reply, Reply::Tool(..)) {
            "tool_calls"
        } else {
            "stop"
        };
        let mut out = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]});
        if shared.usage.is_some() {
            out["usage"] = usage;
        }
        return axum::Json(out).into_response();
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"],
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    let hang = match &reply {
        Reply::Text(text) => {
            for word in text.split_inclusive(' ') {
                events.push(chunk(json!({"content": word}), None));
            }
            events.push(chunk(json!({}), Some("stop")));
            false
        }
        Reply::Tool(name, arguments) => {
            let args = arguments.to_string();
            let (first, second) = args.split_at(args.len() / 2);
            events.push(chunk(json!({"tool_calls": [{"index": 0, "id": format!("call_{index}"), "type": "function",
                "function": {"name": name, "arguments": first}}]}), None));
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": second}}]}),
                None,
            ));
            events.push(chunk(json!({}), Some("tool_calls")));
            false
        }
        Reply::Hang(partial) => {
            events.push(chunk(json!({"content": partial}), None));
            true
        }
        Reply::Held(_) => unreachable!("answered above"),
    };
    if !hang {
        if shared.usage.is_some() {
            events.push(format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-1", "choices": [], "usage": usage})
            ));
        }
        events.push("data: [DONE]\n\n".to_owned());
    }
    let head = futures::stream::iter(events.into_iter().map(Ok::<_, std::io::Error>));
    let body = if hang {
        let guard = OnClose(shared.closed.clone());
        head.chain(futures::stream::pending())
            .map(move |item| {
                let _ = &guard;
                item
            })
            .boxed()
    } else {
        head.boxed()
    };
    (
        StatusCode::OK,
        [("content-type", "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}
