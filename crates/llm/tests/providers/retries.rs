//! Retry policy: which statuses are retried, `Retry-After`, exhaustion.

use serde_json::json;
use temponest_llm::{ChatRequest, LlmError, Message, ProviderKind};

use crate::support::{FakeServer, Reply, chat_at, config, provider};

fn ok() -> Reply {
    Reply::json(
        200,
        json!({"choices": [{"message": {"content": "done"}, "finish_reason": "stop"}]}),
    )
}

fn hello() -> ChatRequest {
    ChatRequest::new("gpt-4o-mini", vec![Message::user("hello")])
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_success() {
    let server = FakeServer::start(vec![
        Reply::json(429, json!({"error": {"message": "Rate limit reached"}}))
            .header("retry-after", "0"),
        ok(),
    ])
    .await;
    // A long jittered backoff would make this test slow: Retry-After must replace it.
    let mut config = config(ProviderKind::OpenAi, &server.url);
    config.backoff_base_ms = 60_000;
    config.backoff_max_ms = 60_000;
    let response = provider(config).chat(&hello(), None).await.unwrap();
    assert_eq!(response.content, "done");
    assert_eq!(response.attempts, 2);
    assert_eq!(server.count(), 2);
    let requests = server.requests();
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry resends the same body"
    );
}

#[tokio::test]
async fn transient_server_errors_are_retried() {
    let server = FakeServer::start(vec![
        Reply::raw(503, "text/plain", "upstream connect error"),
        Reply::json(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        // An HTTP-date in the past means "retry now".
        Reply::raw(502, "text/html", "<html>Bad Gateway</html>")
            .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ok(),
    ])
    .await;
    let response = chat_at(ProviderKind::OpenAi, &server.url, &hello())
        .await
        .unwrap();
    assert_eq!(response.attempts, 4);
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FakeServer::start(vec![
        Reply::json(
            400,
            json!({"error": {"message": "Invalid 'messages': empty array"}}),
        ),
        ok(),
    ])
    .await;
    let error = chat_at(ProviderKind::OpenAi, &server.url, &hello())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Upstream {
            provider: "openai".into(),
            status: 400,
            message: "Invalid 'messages': empty array".into()
        }
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn retry_after_beyond_max_backoff_fails_fast() {
    let server = FakeServer::start(vec![
        Reply::json(429, json!({"error": {"message": "Too many requests"}}))
            .header("retry-after", "120"),
        ok(),
    ])
    .await;
    let mut config = config(ProviderKind::OpenAi, &server.url);
    config.backoff_max_ms = 20_000;
    let error = provider(config).chat(&hello(), None).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::RateLimited {
            provider: "openai".into(),
            retry_after_secs: Some(120)
        }
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn long_retry_after_on_503_reports_the_wait() {
    let server = FakeServer::start(vec![
        Reply::json(503, json!({"error": {"message": "Maintenance"}}))
            .header("retry-after", "3600"),
    ])
    .await;
    let error = chat_at(ProviderKind::OpenAi, &server.url, &hello())
        .await
        .unwrap_err();
    assert_eq!(error.class(), "upstream");
    assert!(
        error.to_string().contains("Maintenance") && error.to_string().contains("3600 s"),
        "{error}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = FakeServer::replying(500, json!({"error": {"message": "boom"}})).await;
    let mut config = config(ProviderKind::OpenAi, &server.url);
    config.max_retries = 2;
    let error = provider(config.clone())
        .chat(&hello(), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "provider 'openai' returned HTTP 500: boom"
    );
    assert_eq!(server.count(), 3, "the first attempt and two retries");

    let limited = FakeServer::replying(429, json!({})).await;
    config.base_url = limited.url.clone();
    config.max_retries = 0;
    let error = provider(config).chat(&hello(), None).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::RateLimited {
            provider: "openai".into(),
            retry_after_secs: None
        }
    );
    assert_eq!(limited.count(), 1);
}
