//! The semantic leg against the deterministic local embedding server: vectors stored at
//! ingestion, hybrid ranking, filters on the vector search, deletion seen at once (also by a
//! second instance, through NOTIFY), a provider that is down or refuses, tenant isolation.
//!
//! The server's vectors are hashed bags of words, so two words are "synonyms" when they hash
//! to the same component with the same sign. [`synonym_of`] finds a made-up word that is a
//! synonym of a corpus word: a query made of it matches nothing lexically, yet its vector
//! points at the documents that use the word.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_embeddings::{EmbeddingConfig, EmbeddingKind};
use temponest_knowledge::KnowledgeConfig;
use temponest_test_client::embeddings::{EmbeddingServer, Fault, deterministic_embedding};

use crate::helpers::{Session, TestApp, config, filenames, spawn, spawn_with};

const DIMS: usize = 64;

/// A document about sourdough that says so often, and three about other things.
const CORPUS: &[(&str, &str)] = &[
    (
        "sourdough.md",
        "# Sourdough\n\nSourdough needs a starter. Feed the sourdough starter, mix flour and water, and let the sourdough rise overnight.\n",
    ),
    (
        "kubernetes.md",
        "# Deploying services\n\nA Kubernetes deployment declares how many replicas of a container run. Rolling updates replace pods gradually.\n",
    ),
    (
        "photosynthesis.txt",
        "Plants convert light into chemical energy. Chlorophyll absorbs sunlight, releasing oxygen.\n",
    ),
    (
        "taxes.txt",
        "Filing your income tax return: collect payslips and receipts, claim deductions, and submit before the deadline.\n",
    ),
];

/// A made-up word (`zq…`, in no document) whose vector is exactly `word`'s.
fn synonym_of(word: &str) -> String {
    let target = deterministic_embedding(word, DIMS);
    (0..100_000)
        .map(|n| format!("zq{n}"))
        .find(|candidate| deterministic_embedding(candidate, DIMS) == target)
        .expect("a colliding word")
}

fn embedding(base_url: String) -> EmbeddingConfig {
    EmbeddingConfig {
        backoff_base_ms: 1,
        backoff_max_ms: 10,
        ..EmbeddingConfig::new(EmbeddingKind::OpenAi, base_url)
    }
}

fn semantic_config(server: &EmbeddingServer) -> KnowledgeConfig {
    let mut config = config();
    config.knowledge.embedding = Some(embedding(server.openai_base_url()));
    config
}

async fn semantic_app(pool: PgPool) -> (TestApp, EmbeddingServer) {
    let server = EmbeddingServer::start(DIMS).await;
    let app = spawn_with(pool, semantic_config(&server)).await;
    (app, server)
}

/// The app with `config`, ada, her collection, and a note uploaded there whose ingestion
/// failed (asserted): the app, ada, the collection's id and the failed document.
async fn failed_note(pool: PgPool, config: KnowledgeConfig) -> (TestApp, Session, String, Value) {
    let app = spawn_with(pool, config).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    let document = app
        .add(&ada.token, &collection, "notes.md", "Some notes.")
        .await;
    let failed = app.settled(&ada.token, &document).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    (app, ada, collection, failed)
}

async fn ingest_corpus(app: &TestApp, token: &str, collection: &str) -> Vec<Value> {
    let mut documents = Vec::new();
    for (filename, text) in CORPUS {
        documents.push(app.ingest(token, collection, filename, text).await);
    }
    documents
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn ingestion_stores_one_vector_per_chunk_made_with_the_collections_model(pool: PgPool) {
    let (app, server) = semantic_app(pool).await;
    let (ada, collection) = app
        .ada_with_collection(
            json!({"embedding_model": "tiny-embed", "chunk_size": 60, "chunk_overlap": 0}),
        )
        .await;
    let document = app
        .ingest(&ada.token, &collection, "sourdough.md", CORPUS[0].1)
        .await;
    let chunk_count = document["chunk_count"].as_i64().unwrap();
    assert!(chunk_count > 1, "{document}");
    let rows: Vec<(String, Vec<u8>, String)> = sqlx::query_as(
        "select content, embedding, embedding_identity from knowledge.chunks
         where document_id = $1::text::uuid order by chunk_index",
    )
    .bind(document["id"].as_str().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len() as i64, chunk_count);
    for (content, bytes, identity) in rows {
        assert_eq!(identity, format!("openai/tiny-embed@{DIMS}"));
        let vector = temponest_vectors::decode(&bytes).unwrap();
        assert_eq!(vector, server.embedding(&content), "{content}");
    }
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.model == "tiny-embed"));
    let embedded: usize = requests.iter().map(|r| r.input.len()).sum();
    assert_eq!(embedded as i64, chunk_count, "one batch, each chunk once");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_query_lexical_search_misses_is_found_by_the_semantic_leg_and_ranked_first(pool: PgPool) {
    let (app, _server) = semantic_app(pool.clone()).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    ingest_corpus(&app, &ada.token, &collection).await;
    let synonym = synonym_of("sourdough");

    let hybrid = app.top(&ada.token, &collection, &synonym, 3).await;
    assert_eq!(
        filenames(&hybrid).first().map(String::as_str),
        Some("sourdough.md"),
        "{hybrid}"
    );
    let score = hybrid["chunks"][0]["score"].as_f64().unwrap();
    assert!((score - 1.0 / 61.0).abs() < 1e-9, "fused score {score}");
    assert_eq!(hybrid["total_results"], 3);

    // Where both legs agree, the document still comes first, with both ranks' worth.
    let both = app
        .top(&ada.token, &collection, "rolling updates of pods", 2)
        .await;
    assert_eq!(filenames(&both)[0], "kubernetes.md", "{both}");
    assert!(both["chunks"][0]["score"].as_f64().unwrap() > 1.0 / 61.0);

    // The same question without a provider finds nothing: the lexical leg alone misses it.
    let lexical = spawn(pool).await;
    let answer = lexical
        .query(&ada.token, &collection, json!({"query": synonym}))
        .await;
    assert_eq!(answer["chunks"], json!([]), "{answer}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn hybrid_ranking_puts_the_right_document_first_for_each_question(pool: PgPool) {
    let (app, _server) = semantic_app(pool).await;
    let (ada, id) = app.ada_with_collection(json!({})).await;
    for (filename, text) in crate::retrieval::CORPUS {
        app.ingest(&ada.token, &id, filename, text).await;
    }
    for (question, expected) in crate::retrieval::QUESTIONS {
        let ranked = app.ranked(&ada.token, &id, question).await;
        assert_eq!(
            ranked.first().map(String::as_str),
            Some(*expected),
            "{question}: {ranked:?}"
        );
        assert_eq!(ranked.len(), 5, "the semantic leg ranks every chunk");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_filter_restricts_the_semantic_leg_too(pool: PgPool) {
    let (app, _server) = semantic_app(pool).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    for (filename, text) in CORPUS {
        let lang = if *filename == "sourdough.md" {
            "fr"
        } else {
            "en"
        };
        let metadata = json!({ "lang": lang }).to_string();
        let file = (*filename, text.as_bytes().to_vec(), Some(metadata.as_str()));
        app.ingest_file(&ada.token, &collection, file).await;
    }
    let synonym = synonym_of("sourdough");
    let unfiltered = app.top(&ada.token, &collection, &synonym, 10).await;
    assert_eq!(filenames(&unfiltered)[0], "sourdough.md");
    let filtered = app
        .query(
            &ada.token,
            &collection,
            json!({"query": synonym, "top_k": 10, "filter": {"lang": "en"}}),
        )
        .await;
    let names = filenames(&filtered);
    assert!(
        !names.is_empty(),
        "the semantic leg still ranks what is allowed"
    );
    assert!(!names.contains(&"sourdough.md".to_owned()), "{names:?}");
    for chunk in filtered["chunks"].as_array().unwrap() {
        assert_eq!(chunk["metadata"]["lang"], "en", "{chunk}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_deleted_document_leaves_hybrid_results_at_once_here_and_in_another_instance(
    pool: PgPool,
) {
    let (app, server) = semantic_app(pool.clone()).await;
    let mut other_config = semantic_config(&server);
    other_config.knowledge.run_engine = false;
    let other = spawn_with(pool, other_config).await;
    let (ada, collection) = app.ada_with_collection(json!({})).await;
    let documents = ingest_corpus(&app, &ada.token, &collection).await;
    let synonym = synonym_of("sourdough");
    let query = json!({"query": synonym, "top_k": 10});

    for instance in [&app, &other] {
        let answer = instance.query(&ada.token, &collection, query.clone()).await;
        assert_eq!(filenames(&answer)[0], "sourdough.md");
    }
    let collection_id = collection.parse().unwrap();
    assert_eq!(other.state.vectors.cached_versions(collection_id).len(), 1);

    let deleted = &documents[0];
    let path = format!("/rag/documents/{}", deleted["id"].as_str().unwrap());
    app.remove(&ada.token, &path).await;

    // The other instance hears the change and drops its index without being asked.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !other
        .state
        .vectors
        .cached_versions(collection_id)
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the notification never arrived");
        tokio::task::yield_now().await;
    }
    for instance in [&app, &other] {
        let answer = instance.query(&ada.token, &collection, query.clone()).await;
        let names = filenames(&answer);
        assert!(!names.contains(&"sourdough.md".to_owned()), "{names:?}");
        assert_eq!(
            names.len(),
            3,
            "the other documents' chunks remain: {names:?}"
        );
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_provider_that_is_down_retries_the_document_then_fails_it_with_the_reason(pool: PgPool) {
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let mut config = config();
    config.knowledge.embedding = Some(EmbeddingConfig {
        max_retries: 0,
        ..embedding(url)
    });
    config.knowledge.max_attempts = 2;
    config.knowledge.retry_delay_ms = 10;
    let (_app, _, _, failed) = failed_note(pool, config).await;
    assert_eq!(failed["attempts"], 2, "retried once: {failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("embedding failed after 2 attempts:") && error.contains("unreachable"),
        "{error}"
    );
    assert_eq!(failed["chunk_count"], 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_provider_that_refuses_the_request_fails_the_document_at_once(pool: PgPool) {
    let server = EmbeddingServer::faulty(DIMS, vec![Fault::Status(400)]).await;
    let (app, ada, collection, failed) = failed_note(pool, semantic_config(&server)).await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("HTTP 400"), "{error}");
    // The next upload is embedded normally.
    app.ingest(&ada.token, &collection, "more.md", "More notes.")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_tenants_vectors_are_never_searched(pool: PgPool) {
    let (app, _server) = semantic_app(pool).await;
    let (ada, ada_collection) = app.ada_with_collection(json!({})).await;
    ingest_corpus(&app, &ada.token, &ada_collection).await;
    let bob = app.signup("bob@example.com").await;
    let bob_collection = app.collection(&bob.token, json!({"name": "docs"})).await;
    let bob_collection = bob_collection["id"].as_str().unwrap();
    app.ingest(
        &bob.token,
        bob_collection,
        "garden.txt",
        "Tomatoes need sun and water.",
    )
    .await;
    let synonym = synonym_of("sourdough");
    let answer = app.top(&bob.token, bob_collection, &synonym, 10).await;
    assert_eq!(filenames(&answer), ["garden.txt"], "{answer}");
    let query = json!({"query": synonym});
    let ada_query = format!("POST /rag/collections/{ada_collection}/query");
    app.refused(&bob.token, &ada_query, Some(&query), 404, "collection")
        .await;
}

/// An index that could never fit the vector cache is not loaded (it would be evicted as soon
/// as it was inserted and loaded again by every query, at the cost of the whole budget each
/// time): such a collection is answered by the lexical leg, and by both legs once the budget
/// is raised.
#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_collection_too_large_for_the_vector_cache_is_answered_by_the_lexical_leg(pool: PgPool) {
    // 4 · 1024 + 400 estimated bytes a vector: a budget of 1 MiB holds 233 of them.
    const WIDE: usize = 1024;
    let server = EmbeddingServer::start(WIDE).await;
    let mut tight = semantic_config(&server);
    tight.knowledge.vector_cache_max_bytes = 1 << 20;
    let app = spawn_with(pool.clone(), tight).await;
    let (ada, collection) = app
        .ada_with_collection(json!({"chunk_size": 60, "chunk_overlap": 0}))
        .await;
    let text: String = (0..300)
        .map(|n| format!("Loaf {n} of sourdough rose overnight. "))
        .collect();
    let document = app
        .ingest(&ada.token, &collection, "loaves.txt", &text)
        .await;
    assert!(
        document["chunk_count"].as_i64().unwrap() > 233,
        "{document}"
    );

    // Lexical scores ((rank + every word present) / 2 ≥ 0.5), not fused ones (≤ 2/61).
    let tight_answer = app.top(&ada.token, &collection, "sourdough loaf", 3).await;
    let scores: Vec<f64> = tight_answer["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 3, "{tight_answer}");
    assert!(scores.iter().all(|s| *s >= 0.5), "{tight_answer}");

    let roomy = spawn_with(pool, semantic_config(&server)).await;
    let fused = roomy
        .top(&ada.token, &collection, "sourdough rose", 3)
        .await;
    let best = fused["chunks"][0]["score"].as_f64().unwrap();
    assert!(best <= 2.0 / 61.0 + 1e-9, "{fused}");
}
