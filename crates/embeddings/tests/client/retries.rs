use temponest_embeddings::{EmbeddingConfig, EmbeddingError, EmbeddingKind};
use temponest_test_client::embeddings::{EmbeddingServer, Fault};

use crate::{MODEL, config, embed, embed_error, texts};

async fn server_with(faults: Vec<Fault>) -> EmbeddingServer {
    EmbeddingServer::faulty(16, faults).await
}

fn statuses(server: &EmbeddingServer) -> Vec<u16> {
    server.requests().iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn transient_server_errors_are_retried_until_success() {
    let server = server_with(vec![Fault::Status(503), Fault::Status(502)]).await;
    let input = texts(5);
    let embeddings = embed(&config(EmbeddingKind::OpenAi, &server), input.clone()).await;
    assert_eq!(embeddings.vectors[4], server.embedding(&input[4]));
    assert_eq!(statuses(&server), [503, 502, 200]);
    assert!(
        server.requests().iter().all(|r| r.input == input),
        "the same batch resent"
    );
}

#[tokio::test]
async fn retries_stop_after_max_retries_with_the_providers_error() {
    let server = server_with(vec![Fault::Status(503); 3]).await;
    let config = EmbeddingConfig {
        max_retries: 1,
        ..config(EmbeddingKind::Ollama, &server)
    };
    let error = embed_error(&config, MODEL, texts(2)).await;
    assert_eq!(
        error,
        EmbeddingError::Upstream {
            provider: "fake".into(),
            status: 503,
            message: "scripted failure 503".into()
        }
    );
    assert_eq!(statuses(&server), [503, 503]);
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    let server = server_with(vec![Fault::RateLimited("0.3".into())]).await;
    embed(&config(EmbeddingKind::OpenAi, &server), texts(3)).await;
    let requests = server.requests();
    assert_eq!(statuses(&server), [429, 200]);
    let waited = requests[1].received_at - requests[0].received_at;
    // The backoff alone would wait at most a few milliseconds (base 1 ms).
    assert!(waited.as_millis() >= 300, "retried after {waited:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_maximum_backoff_fails_at_once() {
    let server = server_with(vec![Fault::RateLimited("120".into())]).await;
    let error = embed_error(&config(EmbeddingKind::OpenAi, &server), MODEL, texts(3)).await;
    assert_eq!(
        error.to_string(),
        "embedding provider 'fake' is rate limiting requests (it asks to retry after 120 s)"
    );
    assert_eq!(statuses(&server), [429]);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = server_with(Vec::new()).await;
    let error = embed_error(&config(EmbeddingKind::OpenAi, &server), "", texts(1)).await;
    assert_eq!(
        error.to_string(),
        "embedding provider 'fake' returned HTTP 400: model is required"
    );
    assert_eq!(statuses(&server), [400]);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = EmbeddingConfig {
        backoff_base_ms: 1,
        max_retries: 2,
        ..EmbeddingConfig::new(EmbeddingKind::Ollama, format!("http://{address}"))
    };
    let error = embed_error(&config, MODEL, texts(1)).await;
    let EmbeddingError::Unreachable { detail, .. } = &error else {
        panic!("unexpected {error:?}");
    };
    assert!(
        detail.starts_with(&format!("cannot connect to http://{address}")),
        "{detail}"
    );
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_fails_without_a_retry() {
    // A gate of two with a single request holds it well past the 1 s timeout.
    let server = EmbeddingServer::gated(4, 2).await;
    let config = EmbeddingConfig {
        timeout_secs: 1,
        ..config(EmbeddingKind::OpenAi, &server)
    };
    let error = embed_error(&config, MODEL, texts(1)).await;
    assert_eq!(
        error,
        EmbeddingError::Timeout {
            provider: "fake".into(),
            after_secs: 1
        }
    );
    assert_eq!(server.arrivals(), 1, "not retried");
}
