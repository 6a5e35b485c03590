//! Failure classification: timeouts, malformed bodies, unreachable hosts, configuration.

use std::collections::BTreeMap;

use temponest_llm::{ChatRequest, LlmError, Message, ProviderConfig, ProviderKind, Providers};

use axum::Router;

use crate::support::{
    FakeServer, Reply, chat_at, chat_streaming, client, config, pieces, provider, serve,
};

fn hello() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hello")])
}

#[tokio::test]
async fn a_stream_that_stalls_times_out_and_is_not_retried() {
    let delta = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    let (server, config) =
        FakeServer::stalling(ProviderKind::OpenAi, "text/event-stream", delta).await;
    let (result, deltas) = chat_streaming(provider(config).as_ref(), &hello()).await;
    assert_eq!(deltas, vec!["Hel"]);
    assert_eq!(
        result.unwrap_err(),
        LlmError::Timeout {
            provider: "openai".into(),
            after_secs: 1
        }
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_non_streamed_body_that_stalls_times_out() {
    let body = "{\"choices\": [{\"message\": ";
    let (server, config) =
        FakeServer::stalling(ProviderKind::Ollama, "application/json", body).await;
    let error = provider(config).chat(&hello(), None).await.unwrap_err();
    assert_eq!(error.class(), "timeout");
    assert_eq!(
        error.to_string(),
        "provider 'ollama' timed out: no response for 1 s"
    );
    assert_eq!(server.count(), 1, "read timeouts are not retried");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let url = serve(Router::new().fallback(std::future::pending::<()>)).await;
    let mut config = config(ProviderKind::Anthropic, &url);
    config.connect_timeout_secs = 0;
    config.read_timeout_secs = 1;
    let error = provider(config).chat(&hello(), None).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::Timeout {
            provider: "anthropic".into(),
            after_secs: 1
        }
    );
}

#[tokio::test]
async fn malformed_json_body() {
    let server = FakeServer::start(vec![Reply::raw(
        200,
        "application/json",
        "{\"choices\": [ oops",
    )])
    .await;
    let error = chat_at(ProviderKind::OpenAi, &server.url, &hello())
        .await
        .unwrap_err();
    assert_eq!(error.class(), "malformed");
    assert!(
        error
            .to_string()
            .starts_with("provider 'openai' sent a malformed response: invalid JSON")
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn unparseable_streamed_tool_arguments_are_malformed() {
    let server = FakeServer::start(vec![Reply::chunks(
        "text/event-stream",
        pieces(&[
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        ]),
    )])
    .await;
    let provider = provider(config(ProviderKind::OpenAi, &server.url));
    let (result, _) = chat_streaming(provider.as_ref(), &hello()).await;
    let error = result.unwrap_err();
    assert_eq!(error.class(), "malformed");
    assert!(error.to_string().contains("tool call 'f'"), "{error}");
}

#[tokio::test]
async fn a_truncated_sse_stream_is_malformed() {
    let server = FakeServer::start(vec![Reply::chunks(
        "text/event-stream",
        pieces(&["data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"]),
    )])
    .await;
    let provider = provider(config(ProviderKind::OpenAi, &server.url));
    let (result, deltas) = chat_streaming(provider.as_ref(), &hello()).await;
    assert_eq!(deltas, vec!["Hi"]);
    let error = result.unwrap_err();
    assert_eq!(error.class(), "malformed");
    assert!(error.to_string().contains("before [DONE]"), "{error}");
}

#[tokio::test]
async fn connection_refused_is_unreachable_after_retries() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // dropped: nothing listens there any more
    let mut config = config(ProviderKind::Ollama, &format!("http://user:pw@{closed}"));
    config.max_retries = 2;
    let error = provider(config).chat(&hello(), None).await.unwrap_err();
    assert_eq!(error.class(), "unreachable");
    let message = error.to_string();
    let expected = format!("provider 'ollama' is unreachable: cannot connect to http://{closed}");
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(
        !message.contains("pw"),
        "no URL credentials in messages: {message}"
    );
}

#[tokio::test]
async fn openai_without_a_key_is_unconfigured() {
    // The real OpenAI endpoint: the call must fail before any network access.
    let mut config = ProviderConfig::new(ProviderKind::OpenAi);
    config.api_key = Some("  ".into());
    let providers =
        Providers::from_config(&BTreeMap::from([("openai".into(), config)]), client()).unwrap();
    let error = providers
        .get("openai")
        .unwrap()
        .chat(&hello(), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "provider 'openai' is not configured: set an API key (TEMPONEST_PROVIDERS__OPENAI__API_KEY)"
    );
    assert_eq!(error.class(), "unconfigured");
    assert_eq!(providers.load("openai").unwrap().in_flight, 0);
}

#[tokio::test]
async fn unknown_provider_and_invalid_configuration() {
    let providers = Providers::from_config(&Providers::defaults(), client()).unwrap();
    assert_eq!(
        providers.names(),
        vec!["anthropic", "echo", "ollama", "openai"]
    );
    let error = providers.get("deepseek").err().unwrap();
    assert_eq!(
        error.to_string(),
        "provider 'deepseek' is not configured: no such provider (configured: anthropic, echo, ollama, openai)"
    );

    let bad_url = ProviderConfig {
        base_url: "localhost:11434".into(),
        ..ProviderConfig::new(ProviderKind::Ollama)
    };
    let error =
        Providers::from_config(&BTreeMap::from([("local".into(), bad_url)]), client()).unwrap_err();
    assert_eq!(error.class(), "unconfigured");
    assert!(error.to_string().contains("'local'") && error.to_string().contains("base_url"));

    let zero = ProviderConfig {
        max_concurrency: 0,
        ..ProviderConfig::new(ProviderKind::Echo)
    };
    let error =
        Providers::from_config(&BTreeMap::from([("e".into(), zero)]), client()).unwrap_err();
    assert!(error.to_string().contains("max_concurrency"), "{error}");

    let mut bad_header = ProviderConfig::new(ProviderKind::OpenAi);
    bad_header
        .extra_headers
        .insert("bad header".into(), "x".into());
    let error =
        Providers::from_config(&BTreeMap::from([("o".into(), bad_header)]), client()).unwrap_err();
    assert!(error.to_string().contains("extra header"), "{error}");
}
