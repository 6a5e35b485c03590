//! Retrieval: ranking quality on a small fixed corpus, filters (never short, malformed →
//! 422), validation, and a cache that never serves a result older than the collection.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{spawn, spawn_with_collection};

/// A small fixed corpus (also ranked by the hybrid test in `semantic`).
pub const CORPUS: &[(&str, &str)] = &[
    (
        "kubernetes.md",
        "# Deploying services\n\nA Kubernetes deployment declares how many replicas of a container run. Rolling updates replace pods gradually, and a readiness probe keeps traffic away from pods that are still starting.\n",
    ),
    (
        "sourdough.md",
        "# Baking sourdough\n\nFeed the starter the evening before. Mix flour, water and salt, fold the dough every half hour, then let it rise overnight in the fridge. Bake in a hot Dutch oven.\n",
    ),
    (
        "photosynthesis.txt",
        "Plants convert light into chemical energy. Chlorophyll in the chloroplasts absorbs sunlight, and the energy splits water, releasing oxygen while carbon dioxide is fixed into sugars.\n",
    ),
    (
        "taxes.txt",
        "Filing your income tax return: collect your payslips and receipts, claim deductions for work expenses, and submit the return before the deadline to avoid a late-filing penalty.\n",
    ),
    (
        "chess.md",
        "# Chess openings\n\nThe Sicilian Defence answers e4 with c5. The Queen's Gambit offers a pawn to gain the centre. Openings are about development, king safety and control of the centre.\n",
    ),
];

/// Questions over [`CORPUS`] and the document that answers each.
pub const QUESTIONS: &[(&str, &str)] = &[
    ("how do rolling updates replace pods", "kubernetes.md"),
    ("replica deployments", "kubernetes.md"),
    ("baking bread overnight", "sourdough.md"),
    (
        "how do plants make oxygen from sunlight",
        "photosynthesis.txt",
    ),
    ("late penalty for my tax return", "taxes.txt"),
    ("\"queen's gambit\"", "chess.md"),
    ("openings", "chess.md"),
];

/// Whether every chunk of a query answer has the metadata `lang`.
fn all_chunks_in(answer: &Value, lang: &str) -> bool {
    let chunks = answer["chunks"].as_array().unwrap();
    chunks.iter().all(|c| c["metadata"]["lang"] == lang)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_right_document_comes_first_for_each_question(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    for (filename, text) in CORPUS {
        app.ingest(&ada.token, &id, filename, text).await;
    }
    for (question, expected) in QUESTIONS {
        let ranked = app.ranked(&ada.token, &id, question).await;
        assert_eq!(
            ranked.first().map(String::as_str),
            Some(*expected),
            "{question}: {ranked:?}"
        );
    }
    let excluded = app.ranked(&ada.token, &id, "openings -sicilian").await;
    assert!(
        excluded.is_empty(),
        "the only chunk about openings names the Sicilian: {excluded:?}"
    );
    let answer = app.top(&ada.token, &id, "centre", 1).await;
    assert_eq!(answer["query"], "centre");
    assert_eq!(answer["collection_id"], id.as_str());
    assert_eq!(answer["total_results"], 1);
    let chunk = &answer["chunks"][0];
    assert_eq!(chunk["chunk_index"], 0);
    assert!(chunk["document_id"].is_string());
    let score = chunk["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{score}");
    let none = app
        .query(&ada.token, &id, json!({"query": "submarine volcano"}))
        .await;
    assert_eq!(none["chunks"], json!([]));
    assert_eq!(none["total_results"], 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn filters_match_metadata_in_sql_so_top_k_is_never_short(pool: PgPool) {
    let (app, ada, id) =
        spawn_with_collection(pool, json!({"chunk_size": 80, "chunk_overlap": 0})).await;
    // Many strongly matching English chunks, few weakly matching German ones: a filter
    // applied after the limit would find no German chunk in the top 2.
    let english: String = (0..30)
        .map(|i| format!("Invoice invoice number {i} is an invoice. "))
        .collect();
    let german =
        "Die Rechnung ist ein invoice. Noch eine Rechnung als invoice. Dritte Rechnung, invoice.";
    for (name, text, metadata) in [
        (
            "en.txt",
            english.as_str(),
            r#"{"lang": "en", "tags": ["billing", "public"]}"#,
        ),
        ("de.txt", german, r#"{"lang": "de", "tags": ["billing"]}"#),
    ] {
        let file = (name, text.as_bytes().to_vec(), Some(metadata));
        let document = app.uploaded(&ada.token, &id, file, 201).await;
        app.settled(&ada.token, &document).await;
    }
    let unfiltered = app.top(&ada.token, &id, "invoice", 2).await;
    assert!(all_chunks_in(&unfiltered, "en"), "{unfiltered}");
    let german = app
        .query(
            &ada.token,
            &id,
            json!({"query": "invoice", "top_k": 2, "filter": {"lang": "de"}}),
        )
        .await;
    assert_eq!(german["chunks"].as_array().unwrap().len(), 2, "{german}");
    assert!(all_chunks_in(&german, "de"), "{german}");
    let tagged = app
        .query(
            &ada.token,
            &id,
            json!({"query": "invoice", "top_k": 100, "filter": {"tags": ["public"]}}),
        )
        .await;
    assert!(tagged["total_results"].as_u64() > Some(2));
    assert!(all_chunks_in(&tagged, "en"), "{tagged}");
    let nothing = app
        .query(
            &ada.token,
            &id,
            json!({"query": "invoice", "filter": {"lang": "fr"}}),
        )
        .await;
    assert_eq!(nothing["total_results"], 0);
    let everything = app
        .query(
            &ada.token,
            &id,
            json!({"query": "invoice", "top_k": 100, "filter": {}}),
        )
        .await;
    assert_eq!(everything["total_results"], everything["total_matches"]);

    let path = format!("POST /rag/collections/{id}/query");
    app.expect_refusals(
        &ada.token,
        &[
            (
                &path,
                Some(json!({"query": "x", "filter": ["lang"]})),
                422,
                "filter",
            ),
            (
                &path,
                Some(json!({"query": "x", "filter": "lang=de"})),
                422,
                "filter",
            ),
            (
                &path,
                Some(json!({"query": "x", "filter": {"$or": [{"lang": "de"}]}})),
                422,
                "operators",
            ),
            (&path, Some(json!({"query": "x", "top_k": 0})), 422, "top_k"),
            (
                &path,
                Some(json!({"query": "x", "top_k": 101})),
                422,
                "top_k",
            ),
            (&path, Some(json!({"query": "   "})), 422, "query"),
            (&path, Some(json!({"top_k": 3})), 422, "query"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cached_answers_are_reused_until_an_upload_or_a_delete_changes_them(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    app.ingest(
        &ada.token,
        &id,
        "first.txt",
        "Volcanoes erupt when magma rises.",
    )
    .await;
    let ask = json!({"query": "volcano", "top_k": 5});
    let first = app.query(&ada.token, &id, ask.clone()).await;
    assert_eq!(first["total_results"], 1);
    let hits_before = rag_hits(&app).await;
    assert_eq!(app.query(&ada.token, &id, ask.clone()).await, first);
    assert!(
        rag_hits(&app).await > hits_before,
        "the repeat came from the cache"
    );

    let second = app
        .ingest(
            &ada.token,
            &id,
            "second.txt",
            "A volcano volcano volcano: the volcano chapter.",
        )
        .await;
    let after_upload = app.query(&ada.token, &id, ask.clone()).await;
    assert_eq!(after_upload["total_results"], 2, "{after_upload}");
    assert_eq!(after_upload["chunks"][0]["filename"], "second.txt");

    let path = format!("/rag/documents/{}", second["id"].as_str().unwrap());
    app.remove(&ada.token, &path).await;
    let after_delete = app.query(&ada.token, &id, ask).await;
    assert_eq!(after_delete["chunks"], first["chunks"]);
}

/// `cache_hits_total` of the `rag` category, both tiers.
async fn rag_hits(app: &crate::helpers::TestApp) -> f64 {
    app.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("cache_hits_total{") && l.contains("cache=\"rag\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_unknown_collection_is_404_for_queries_and_uploads(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let missing = uuid::Uuid::now_v7();
    let query = json!({"query": "x"});
    app.refused(
        &ada.token,
        &format!("POST /rag/collections/{missing}/query"),
        Some(&query),
        404,
        "collection",
    )
    .await;
    let file = ("a.txt", b"x".to_vec(), None);
    app.upload_refused(&ada.token, &missing.to_string(), file, 404, "collection")
        .await;
}
