//! A local OpenAI-compatible chat-completions server driven by a script: plain JSON and SSE
//! chunk streaming (text split into several chunks, tool calls with arguments split across
//! chunks, the usage chunk), and replies that hang until the client goes away.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
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
}

#[derive(Clone)]
struct Shared {
    script: Arc<Vec<Reply>>,
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
        let shared = Shared {
            script: Arc::new(script),
            requests: Arc::default(),
            received: Arc::default(),
            closed: Arc::default(),
            usage,
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
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

    /// Resolves when a hanging reply's client has gone away.
    pub fn closed(&self) -> Arc<Notify> {
        self.shared.closed.clone()
    }
}

/// Notifies when dropped: hyper drops the response body (or the handler) when the client
/// disconnects.
struct OnClose(Arc<Notify>);

impl Drop for OnClose {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

async fn chat(State(shared): State<Shared>, body: axum::Json<Value>) -> Response {
    let body = body.0;
    let index = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(body.clone());
        requests.len() - 1
    };
    shared.received.notify_waiters();
    let reply = shared
        .script
        .get(index)
        .or_else(|| shared.script.last())
        .cloned()
        .expect("a script");
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
