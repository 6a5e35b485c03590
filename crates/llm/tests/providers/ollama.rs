//! Ollama's native `/api/chat` against a fake server (NDJSON streaming).

use serde_json::json;
use temponest_llm::{ChatRequest, Message, ProviderKind, ToolSpec};

use crate::support::{
    FakeServer, Reply, assert_ending, call, chat_streaming, config, pieces, pieces_around, provider,
};

fn request() -> ChatRequest {
    let call = call("call_0", "add", json!({"a": 1, "b": 2}));
    ChatRequest {
        temperature: Some(0.2),
        max_tokens: Some(64),
        tools: vec![ToolSpec {
            name: "add".into(),
            description: "Adds two numbers".into(),
            parameters: json!({"type": "object"}),
        }],
        ..ChatRequest::new(
            "llama3.2",
            vec![
                Message::system("Be brief."),
                Message::user("1+2?"),
                Message::assistant("", vec![call.clone()]),
                Message::tool_result(&call, "3"),
            ],
        )
    }
}

#[tokio::test]
async fn streamed_ndjson_with_tool_calls_and_final_counts() {
    // "€" (0xE2 0x82 0xAC) split across writes.
    let chunks = pieces_around(
        &[
            "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"The \"},\"done\":false}\n{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"sum is \"},\"done\":false}\n{\"model\":\"llama3.2\",\"mess",
            "age\":{\"role\":\"assistant\",\"content\":\"3 \"},\"done\":false}\n",
        ],
        &[
            b"{\"message\":{\"role\":\"assistant\",\"content\":\"\xE2\x82",
            b"\xAC\"},\"done\":false}\n",
        ],
        &[
            "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"add\",\"arguments\":{\"a\":3,\"b\":4}}},{\"function\":{\"name\":\"log\",\"arguments\":{}}}]},\"done\":false}\n",
            "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":123,\"prompt_eval_count\":26,\"eval_count\":11}\n",
        ],
    );
    let server = FakeServer::start(vec![Reply::chunks("application/x-ndjson", chunks)]).await;
    let mut config = config(ProviderKind::Ollama, &server.url);
    config.api_key = None;
    let (response, deltas) = chat_streaming(provider(config).as_ref(), &request()).await;
    let response = response.unwrap();

    assert_eq!(deltas, vec!["The ", "sum is ", "3 ", "€"]);
    assert_eq!(response.content, "The sum is 3 €");
    let calls = [
        call("call_0", "add", json!({"a": 3, "b": 4})),
        call("call_1", "log", json!({})),
    ];
    assert_ending(&response, &calls, (26, 11), "stop");

    let request = server.single();
    assert_eq!(request.path, "/api/chat");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({
            "model": "llama3.2",
            "stream": true,
            "options": {"temperature": 0.2, "num_predict": 64},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "1+2?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}
                ]},
                {"role": "tool", "content": "3", "tool_name": "add"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "add", "description": "Adds two numbers", "parameters": {"type": "object"}
            }}]
        })
    );
}

#[tokio::test]
async fn non_streamed_response_and_bearer_key_when_set() {
    let server = FakeServer::replying(
        200,
        json!({
            "model": "llama3.2",
            "message": {"role": "assistant", "content": "Hi there"},
            "done": true,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": 3
        }),
    )
    .await;
    let response = provider(config(ProviderKind::Ollama, &server.url))
        .chat(
            &ChatRequest::new("llama3.2", vec![Message::user("hello")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.content, "Hi there");
    assert_eq!(response.usage.unwrap().total(), 8);
    let request = server.single();
    assert_eq!(request.header("authorization"), Some("Bearer test-key"));
    assert_eq!(request.body["stream"], json!(false));
    assert!(request.body.get("options").is_none() && request.body.get("tools").is_none());
}

#[tokio::test]
async fn error_body_and_in_stream_error() {
    let server = FakeServer::start(vec![
        Reply::json(
            404,
            json!({"error": "model 'nope' not found, try pulling it first"}),
        ),
        Reply::chunks(
            "application/x-ndjson",
            pieces(&["{\"error\":\"llama runner process has terminated\"}\n"]),
        ),
    ])
    .await;
    let provider = provider(config(ProviderKind::Ollama, &server.url));
    let request = ChatRequest::new("nope", vec![Message::user("hi")]);
    let error = provider.chat(&request, None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "provider 'ollama' returned HTTP 404: model 'nope' not found, try pulling it first"
    );

    // Mid-stream runner crash: reported as a server error (and retried, as nothing was
    // streamed yet; the last reply repeats, so every attempt fails the same way).
    let (result, deltas) = chat_streaming(provider.as_ref(), &request).await;
    let error = result.unwrap_err();
    assert!(deltas.is_empty());
    assert!(
        error
            .to_string()
            .contains("500: llama runner process has terminated"),
        "{error}"
    );
    assert_eq!(server.count(), 1 + 4, "one 404, then 1 + 3 retries");
}

#[tokio::test]
async fn stream_cut_before_done_is_malformed() {
    let server = FakeServer::start(vec![Reply::chunks(
        "application/x-ndjson",
        pieces(&[
            "{\"message\":{\"role\":\"assistant\",\"content\":\"partial\"},\"done\":false}\n",
        ]),
    )])
    .await;
    let provider = provider(config(ProviderKind::Ollama, &server.url));
    let (result, deltas) = chat_streaming(
        provider.as_ref(),
        &ChatRequest::new("m", vec![Message::user("hi")]),
    )
    .await;
    assert_eq!(deltas, vec!["partial"]);
    let error = result.unwrap_err();
    assert_eq!(error.class(), "malformed");
    assert!(
        error.to_string().contains("before the final `done`"),
        "{error}"
    );
}
