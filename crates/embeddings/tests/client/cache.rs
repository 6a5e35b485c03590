use temponest_embeddings::{CacheStats, EmbeddingConfig, EmbeddingKind};
use temponest_test_client::embeddings::EmbeddingServer;

use crate::{MODEL, config, embedder};

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

#[tokio::test]
async fn identical_texts_are_embedded_once_across_and_within_calls() {
    let server = EmbeddingServer::start(16).await;
    let client = embedder(&config(EmbeddingKind::OpenAi, &server));

    let first = client
        .embed_batch(MODEL, strings(&["alpha", "beta", "alpha", "gamma"]))
        .await
        .unwrap();
    assert_eq!(first.vectors[0], first.vectors[2]);
    assert_eq!(server.requests()[0].input, ["alpha", "beta", "gamma"]);
    assert_eq!(client.cache_stats(), CacheStats { hits: 1, misses: 3 });

    let second = client
        .embed_batch(MODEL, strings(&["gamma", "alpha", "delta"]))
        .await
        .unwrap();
    let expected: Vec<Vec<f32>> = ["gamma", "alpha", "delta"]
        .iter()
        .map(|t| server.embedding(t))
        .collect();
    assert_eq!(second.vectors, expected);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].input, ["delta"]);
    assert_eq!(client.cache_stats(), CacheStats { hits: 3, misses: 4 });

    // A fully cached call sends nothing.
    client.embed_batch(MODEL, strings(&["beta"])).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn another_model_is_a_miss_and_clones_share_the_cache() {
    let server = EmbeddingServer::start(16).await;
    let client = embedder(&config(EmbeddingKind::Ollama, &server));
    client
        .embed_batch(MODEL, strings(&["alpha"]))
        .await
        .unwrap();
    client
        .clone()
        .embed_batch(MODEL, strings(&["alpha"]))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 1);
    let other = client
        .embed_batch("mxbai-embed-large", strings(&["alpha"]))
        .await
        .unwrap();
    assert_eq!(other.identity.unwrap().model, "mxbai-embed-large");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].model, "mxbai-embed-large");
}

#[tokio::test]
async fn a_disabled_cache_sends_every_call() {
    let server = EmbeddingServer::start(16).await;
    let config = EmbeddingConfig {
        cache_max_bytes: 0,
        ..config(EmbeddingKind::OpenAi, &server)
    };
    let client = embedder(&config);
    for _ in 0..2 {
        client
            .embed_batch(MODEL, strings(&["alpha", "alpha"]))
            .await
            .unwrap();
    }
    // Duplicates within a call are still sent once.
    let inputs: Vec<Vec<String>> = server.requests().into_iter().map(|r| r.input).collect();
    assert_eq!(inputs, [["alpha"], ["alpha"]]);
}
