use temponest_embeddings::{Embedder, EmbeddingConfig, EmbeddingError, EmbeddingKind};
use temponest_test_client::embeddings::EmbeddingServer;

use crate::{MODEL, config, embed, embedder, http, texts};

#[tokio::test]
async fn openai_batches_come_back_in_input_order_with_an_identity() {
    let server = EmbeddingServer::start(64).await;
    let config = EmbeddingConfig {
        api_key: Some("sk-test".into()),
        batch_size: 3,
        max_concurrency: 2,
        ..config(EmbeddingKind::OpenAi, &server)
    };
    let input = texts(10);
    let embeddings = embed(&config, input.clone()).await;

    // The server lists each batch's vectors in reverse; the client places them by index.
    let expected: Vec<Vec<f32>> = input.iter().map(|t| server.embedding(t)).collect();
    assert_eq!(embeddings.vectors, expected);
    let identity = embeddings.identity.unwrap();
    assert_eq!(identity.to_string(), "fake/nomic-embed-text@64");

    let requests = server.requests();
    let mut sizes: Vec<usize> = requests.iter().map(|r| r.input.len()).collect();
    sizes.sort();
    assert_eq!(sizes, [1, 3, 3, 3]);
    let mut sent: Vec<String> = requests.iter().flat_map(|r| r.input.clone()).collect();
    sent.sort();
    let mut all = input;
    all.sort();
    assert_eq!(sent, all, "every text sent exactly once");
    for request in &requests {
        assert_eq!(request.path, "/v1/embeddings");
        assert_eq!(request.model, MODEL);
        assert_eq!(request.authorization.as_deref(), Some("Bearer sk-test"));
    }
}

#[tokio::test]
async fn ollama_is_spoken_on_api_embed_without_a_key() {
    let server = EmbeddingServer::start(32).await;
    let config = EmbeddingConfig {
        batch_size: 4,
        ..config(EmbeddingKind::Ollama, &server)
    };
    let input = texts(6);
    let embeddings = embed(&config, input.clone()).await;
    let expected: Vec<Vec<f32>> = input.iter().map(|t| server.embedding(t)).collect();
    assert_eq!(embeddings.vectors, expected);
    assert_eq!(embeddings.identity.unwrap().dims, 32);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/api/embed" && r.authorization.is_none())
    );
}

#[tokio::test]
async fn the_concurrency_limit_holds_across_concurrent_calls() {
    // The server holds requests until three are in flight together: a client that stays
    // below its limit never opens the gate, one that exceeds it shows a higher mark.
    let server = EmbeddingServer::gated(8, 3).await;
    let config = EmbeddingConfig {
        batch_size: 2,
        max_concurrency: 3,
        ..config(EmbeddingKind::OpenAi, &server)
    };
    let client = embedder(&config);
    let first: Vec<String> = texts(12);
    let second: Vec<String> = texts(24).split_off(12);
    let (a, b) = tokio::join!(
        client.embed_batch(MODEL, first),
        client.embed_batch(MODEL, second)
    );
    assert_eq!(
        (a.unwrap().vectors.len(), b.unwrap().vectors.len()),
        (12, 12)
    );
    assert_eq!(server.requests().len(), 12);
    assert_eq!(server.high_water(), 3);
}

#[tokio::test]
async fn an_empty_input_sends_nothing() {
    let server = EmbeddingServer::start(8).await;
    let client = embedder(&config(EmbeddingKind::OpenAi, &server));
    // Spawned, as a service's ingestion task would run it (the future must be Send).
    let embeddings = tokio::spawn(async move { client.embed_batch(MODEL, Vec::new()).await })
        .await
        .unwrap()
        .unwrap();
    assert!(embeddings.vectors.is_empty() && embeddings.identity.is_none());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_provider_name_with_a_slash_or_a_bad_config_is_refused() {
    let server = EmbeddingServer::start(8).await;
    let config = config(EmbeddingKind::OpenAi, &server);
    let error = Embedder::new("a/b", &config, http()).unwrap_err();
    assert!(matches!(
        error,
        EmbeddingError::InvalidConfig {
            field: "provider",
            ..
        }
    ));
    let error = Embedder::new(
        "fake",
        &EmbeddingConfig {
            max_concurrency: 0,
            ..config
        },
        http(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid embedding configuration: max_concurrency must be 1..=64, is 0"
    );
}

#[test]
fn the_fake_embeds_texts_sharing_words_near_each_other() {
    use temponest_test_client::embeddings::deterministic_embedding;
    let cos = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
    let a = deterministic_embedding("Postgres full text search ranking", 256);
    let b = deterministic_embedding("ranking search results in postgres", 256);
    let c = deterministic_embedding("banana bread recipe with walnuts", 256);
    assert!((cos(&a, &a) - 1.0).abs() < 1e-5, "unit length");
    assert!(cos(&a, &b) > 0.5, "{}", cos(&a, &b));
    assert!(cos(&a, &c).abs() < 0.3, "{}", cos(&a, &c));
    assert_eq!(
        a,
        deterministic_embedding("postgres FULL text, search ranking!", 256)
    );
}
