use temponest_embeddings::{EmbeddingConfig, EmbeddingError, EmbeddingKind};
use temponest_test_client::embeddings::{EmbeddingServer, Fault};

use crate::{MODEL, config, embed_error, embedder, texts};

async fn server_with(fault: Fault) -> EmbeddingServer {
    EmbeddingServer::faulty(64, vec![fault]).await
}

#[tokio::test]
async fn a_missing_vector_is_a_count_mismatch_and_not_retried() {
    let server = server_with(Fault::DropLast).await;
    let error = embed_error(&config(EmbeddingKind::OpenAi, &server), MODEL, texts(4)).await;
    assert_eq!(
        error.to_string(),
        "embedding provider 'fake' returned 3 embeddings for 4 texts"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_vector_of_another_length_is_a_dimension_mismatch_and_nothing_is_cached() {
    let server = server_with(Fault::ShortLast).await;
    let config = EmbeddingConfig {
        batch_size: 2,
        max_concurrency: 1,
        ..config(EmbeddingKind::Ollama, &server)
    };
    let client = embedder(&config);
    let error = client.embed_batch(MODEL, texts(4)).await.unwrap_err();
    // The first batch (texts 0 and 1) got the fault: text 1 is one short.
    assert_eq!(
        error,
        EmbeddingError::DimensionMismatch {
            provider: "fake".into(),
            text: 1,
            expected: 64,
            actual: 63,
        }
    );
    // The vectors of a failed call were not cached: the next call sends all four again.
    let embeddings = client.embed_batch(MODEL, texts(4)).await.unwrap();
    assert_eq!(embeddings.identity.unwrap().dims, 64);
    let sent: usize = server.requests().iter().map(|r| r.input.len()).sum();
    assert_eq!(sent, 8);
}
