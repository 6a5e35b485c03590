//! Anthropic Messages against a fake `/v1/messages` (typed SSE events).

use serde_json::{Value, json};
use temponest_llm::{ChatRequest, LlmError, Message, ProviderKind, ToolSpec};

use crate::support::{
    FakeServer, Reply, assert_ending, call, chat_at, chat_streaming, config, pieces, provider,
};

fn sse(events: &[(&str, Value)]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n").into_bytes())
        .collect()
}

/// A minimal `message_start` event: `input` and `output` tokens so far.
fn message_start(input: u32, output: u32) -> (&'static str, Value) {
    let usage = json!({"input_tokens": input, "output_tokens": output});
    let start = json!({"type": "message_start", "message": {"usage": usage}});
    ("message_start", start)
}

/// A `content_block_start` event opening a text block at `index`.
fn text_start(index: u32) -> (&'static str, Value) {
    let start = json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}});
    ("content_block_start", start)
}

/// A `content_block_delta` event adding `text` to the text block at `index`.
fn text_delta(index: u32, text: &str) -> (&'static str, Value) {
    let delta = json!({"type": "text_delta", "text": text});
    let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
    ("content_block_delta", event)
}

/// A `content_block_delta` event adding `partial_json` to the tool-use block at `index`.
fn json_delta(index: u32, partial_json: &str) -> (&'static str, Value) {
    let delta = json!({"type": "input_json_delta", "partial_json": partial_json});
    let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
    ("content_block_delta", event)
}

/// A `content_block_stop` event closing the block at `index`.
fn block_stop(index: u32) -> (&'static str, Value) {
    let stop = json!({"type": "content_block_stop", "index": index});
    ("content_block_stop", stop)
}

fn request() -> ChatRequest {
    let first = call("toolu_1", "lookup", json!({"q": "rust"}));
    let second = call("toolu_2", "lookup", json!({"q": "axum"}));
    ChatRequest {
        tools: vec![ToolSpec {
            name: "lookup".into(),
            description: "Searches the docs".into(),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        }],
        temperature: Some(0.5),
        ..ChatRequest::new(
            "claude-sonnet-4-5",
            vec![
                Message::system("You are helpful."),
                Message::system("Answer in English."),
                Message::user("Find docs"),
                Message::assistant("Looking.", vec![first.clone(), second.clone()]),
                Message::tool_result(&first, "rust docs"),
                Message::tool_result(&second, "axum docs"),
                Message::user("Thanks, summarise."),
            ],
        )
    }
}

#[tokio::test]
async fn non_streamed_message_and_faithful_request_body() {
    let server = FakeServer::replying(
        200,
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": "tokio"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50}
        }),
    )
    .await;
    let response = chat_at(ProviderKind::Anthropic, &server.url, &request())
        .await
        .unwrap();
    assert_eq!(response.content, "Let me check.");
    let calls = [call("toolu_9", "lookup", json!({"q": "tokio"}))];
    assert_ending(&response, &calls, (150, 20), "tool_use");

    let request = server.single();
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some("test-key"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "stream": false,
            "temperature": 0.5,
            "system": "You are helpful.\n\nAnswer in English.",
            "messages": [
                {"role": "user", "content": "Find docs"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Looking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "rust"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"q": "axum"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rust docs"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "axum docs"}
                ]},
                {"role": "user", "content": "Thanks, summarise."}
            ],
            "tools": [{"name": "lookup", "description": "Searches the docs",
                       "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
        })
    );
}

#[tokio::test]
async fn streamed_events_with_text_and_tool_use() {
    let mut chunks = sse(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude", "stop_reason": null, "usage": {"input_tokens": 472, "output_tokens": 2}}}),
        ),
        text_start(0),
        ("ping", json!({"type": "ping"})),
        text_delta(0, "Okay,"),
        text_delta(0, " checking"),
        block_stop(0),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {}}}),
        ),
        json_delta(1, ""),
        json_delta(1, "{\"q\": \"ru"),
        json_delta(1, "st\"}"),
        block_stop(1),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    // Re-split one event in the middle of its data line.
    let split = chunks.remove(3);
    let (a, b) = split.split_at(30);
    chunks.insert(3, b.to_vec());
    chunks.insert(3, a.to_vec());
    let server = FakeServer::start(vec![Reply::chunks("text/event-stream", chunks)]).await;
    let provider = provider(config(ProviderKind::Anthropic, &server.url));
    let (response, deltas) = chat_streaming(provider.as_ref(), &request()).await;
    let response = response.unwrap();

    assert_eq!(deltas, vec!["Okay,", " checking"]);
    assert_eq!(response.content, "Okay, checking");
    let calls = [call("toolu_01", "lookup", json!({"q": "rust"}))];
    assert_ending(&response, &calls, (472, 89), "tool_use");
    assert_eq!(server.single().body["stream"], json!(true));
}

#[tokio::test]
async fn overloaded_event_before_any_text_is_retried() {
    let overloaded = sse(&[
        message_start(5, 1),
        (
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ]);
    let fine = sse(&[
        message_start(5, 1),
        text_start(0),
        text_delta(0, "Hi"),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let server = FakeServer::start(vec![
        Reply::chunks("text/event-stream", overloaded),
        Reply::chunks("text/event-stream", fine),
    ])
    .await;
    let provider = provider(config(ProviderKind::Anthropic, &server.url));
    let request = ChatRequest::new("claude", vec![Message::user("hi")]);
    let (response, deltas) = chat_streaming(provider.as_ref(), &request).await;
    let response = response.unwrap();
    assert_eq!(deltas, vec!["Hi"]);
    assert_eq!(response.attempts, 2);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn error_event_after_text_is_not_retried() {
    let mut chunks = sse(&[message_start(5, 1), text_start(0), text_delta(0, "Partial")]);
    chunks.extend(pieces(&[
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}\n\n",
    ]));
    let server = FakeServer::start(vec![Reply::chunks("text/event-stream", chunks)]).await;
    let provider = provider(config(ProviderKind::Anthropic, &server.url));
    let request = ChatRequest::new("claude", vec![Message::user("hi")]);
    let (result, deltas) = chat_streaming(provider.as_ref(), &request).await;
    assert_eq!(deltas, vec!["Partial"]);
    assert_eq!(
        result.unwrap_err(),
        LlmError::Upstream {
            provider: "anthropic".into(),
            status: 500,
            message: "Internal server error".into()
        }
    );
    assert_eq!(server.count(), 1, "text was already streamed: no retry");
}

#[tokio::test]
async fn http_error_body_is_parsed() {
    let server = FakeServer::replying(
        401,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
    )
    .await;
    let request = ChatRequest::new("claude", vec![Message::user("hi")]);
    let error = chat_at(ProviderKind::Anthropic, &server.url, &request).await;
    let error = error.unwrap_err();
    assert_eq!(
        error.to_string(),
        "provider 'anthropic' returned HTTP 401: invalid x-api-key"
    );
    assert_eq!(server.count(), 1);
}
