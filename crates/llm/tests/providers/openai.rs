//! The OpenAI-compatible protocol against a fake `/v1/chat/completions`.

use serde_json::json;
use temponest_llm::{ChatRequest, Message, ProviderKind, ToolSpec};

use crate::support::{
    FakeServer, Reply, assert_ending, call, chat_at, chat_streaming, config, pieces_around,
    provider,
};

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }
}

/// A conversation with every message kind, including a finished tool round trip.
fn conversation() -> ChatRequest {
    let call = call("call_abc", "get_weather", json!({"city": "Paris"}));
    ChatRequest {
        temperature: Some(0.7),
        max_tokens: Some(256),
        tools: vec![weather_tool()],
        ..ChatRequest::new(
            "gpt-4o-mini",
            vec![
                Message::system("You are terse."),
                Message::user("Weather in Paris?"),
                Message::assistant("", vec![call.clone()]),
                Message::tool_result(&call, "18°C, sunny"),
                Message::user("And tomorrow?"),
            ],
        )
    }
}

#[tokio::test]
async fn non_streamed_tool_call_and_faithful_request_body() {
    let server = FakeServer::replying(
        200,
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_xyz",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"day\":\"tomorrow\"}"}
                    }]
                },
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 57, "completion_tokens": 18, "total_tokens": 75}
        }),
    )
    .await;
    let mut config = config(ProviderKind::OpenAi, &format!("{}/v1", server.url));
    config
        .extra_headers
        .insert("X-Title".into(), "TempoNest".into());
    let response = provider(config).chat(&conversation(), None).await.unwrap();

    assert_eq!(response.content, "");
    let calls = [call(
        "call_xyz",
        "get_weather",
        json!({"city": "Paris", "day": "tomorrow"}),
    )];
    assert_ending(&response, &calls, (57, 18), "tool_calls");
    assert_eq!(response.attempts, 1);

    let request = server.single();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer test-key"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-title"), Some("TempoNest"));
    assert_eq!(
        request.body,
        json!({
            "model": "gpt-4o-mini",
            "stream": false,
            "temperature": 0.7,
            "max_tokens": 256,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_abc", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
                }]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "18°C, sunny"},
                {"role": "user", "content": "And tomorrow?"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
            }}]
        })
    );
}

#[tokio::test]
async fn streamed_text_tool_calls_and_usage_chunk() {
    // Events split at awkward places: inside JSON, inside "data:", inside a UTF-8 character
    // ("é" is 0xC3 0xA9), with comments and an unknown field.
    let chunks = pieces_around(
        &[
            ": OPENROUTER PROCESSING\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"cho",
            "ices\":[{\"index\":0,\"delta\":{\"content\":\"lo caf",
        ],
        &[b"\xC3", b"\xA9!\"}}]}\n\nid: 3\nda"],
        &[
            "ta: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\": \\\"Paris\\\"}\"}}]}}]}\r\n\r\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21}}\n\n",
            "data: [DONE]\n\n",
        ],
    );
    let server = FakeServer::start(vec![Reply::chunks("text/event-stream", chunks)]).await;
    let provider = provider(config(ProviderKind::OpenAi, &format!("{}/v1", server.url)));
    let request = ChatRequest {
        tools: vec![weather_tool()],
        ..ChatRequest::new("gpt-4o-mini", vec![Message::user("hi")])
    };
    let (response, deltas) = chat_streaming(provider.as_ref(), &request).await;
    let response = response.unwrap();

    assert_eq!(deltas, vec!["Hel", "lo café!"]);
    assert_eq!(response.content, "Hello café!");
    let calls = [
        call("call_1", "get_weather", json!({"city": "Paris"})),
        call("call_2", "get_time", json!({})),
    ];
    assert_ending(&response, &calls, (12, 9), "tool_calls");

    let body = server.single().body;
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert!(body.get("temperature").is_none() && body.get("max_tokens").is_none());
}

#[tokio::test]
async fn no_tools_key_and_no_auth_without_tools_and_key() {
    let server = FakeServer::replying(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}),
    )
    .await;
    // A local OpenAI-compatible server (vLLM, LM Studio) needs no key.
    let mut config = config(ProviderKind::OpenAi, &format!("{}/v1", server.url));
    config.api_key = None;
    let response = provider(config)
        .chat(&ChatRequest::new("local", vec![Message::user("hi")]), None)
        .await
        .unwrap();
    assert_eq!(response.content, "ok");
    assert_eq!(response.usage, None, "no usage reported, none invented");
    let request = server.single();
    assert_eq!(request.header("authorization"), None);
    assert!(request.body.get("tools").is_none());
    assert!(request.body.get("stream_options").is_none());
}

#[tokio::test]
async fn a_server_ignoring_stream_true_still_delivers_the_text() {
    let server = FakeServer::replying(
        200,
        json!({"choices": [{"message": {"content": "whole answer"}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
    )
    .await;
    let provider = provider(config(ProviderKind::OpenAi, &server.url));
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    let (response, deltas) = chat_streaming(provider.as_ref(), &request).await;
    assert_eq!(response.unwrap().content, "whole answer");
    assert_eq!(deltas, vec!["whole answer"]);
}

#[tokio::test]
async fn upstream_error_message_is_extracted() {
    let server = FakeServer::replying(
        404,
        json!({"error": {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
    )
    .await;
    let request = ChatRequest::new("gpt-9", vec![Message::user("hi")]);
    let error = chat_at(ProviderKind::OpenAi, &server.url, &request).await;
    let error = error.unwrap_err();
    assert_eq!(
        error.to_string(),
        "provider 'openai' returned HTTP 404: The model `gpt-9` does not exist"
    );
    assert_eq!(error.class(), "upstream");
}
