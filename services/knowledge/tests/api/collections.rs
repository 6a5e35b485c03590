//! Collection CRUD: defaults, validation, unique names, lists, version bumps, permissions.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{spawn, spawn_with_collection};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_collection_gets_the_sdk_defaults_and_can_be_read_changed_and_deleted(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let created = app
        .collection(
            &ada.token,
            json!({"name": " Handbook ", "description": "HR"}),
        )
        .await;
    assert_eq!(created["name"], "Handbook");
    assert_eq!(created["tenant_id"], ada.tenant_id);
    assert_eq!(created["embedding_model"], "nomic-embed-text");
    assert_eq!(created["chunk_size"], 1000);
    assert_eq!(created["chunk_overlap"], 200);
    assert_eq!(created["document_count"], 0);
    assert_eq!(created["metadata"], json!({}));
    let id = created["id"].as_str().unwrap();
    let path = format!("/rag/collections/{id}");
    assert_eq!(app.fetch(&ada.token, &path).await, created);
    assert_eq!(app.fetch(&ada.token, &format!("{path}/")).await, created);

    let patched = app
        .update(
            &ada.token,
            &path,
            &json!({"description": null, "chunk_size": 500, "metadata": {"team": "hr"}}),
        )
        .await;
    assert_eq!(patched["name"], "Handbook");
    assert_eq!(patched["description"], json!(null));
    assert_eq!(patched["chunk_size"], 500);
    assert_eq!(patched["metadata"], json!({"team": "hr"}));
    assert!(patched["version"].as_i64() > created["version"].as_i64());

    app.remove(&ada.token, &path).await;
    app.expect_refusals(
        &ada.token,
        &[
            (&format!("GET {path}"), None, 404, "collection"),
            (&format!("DELETE {path}"), None, 404, "collection"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn invalid_collections_are_refused_with_the_field_named(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    app.expect_refusals(
        &ada.token,
        &[
            (
                "POST /rag/collections/",
                Some(json!({"name": "  "})),
                422,
                "name",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "chunk_size": 10})),
                422,
                "chunk_size",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "chunk_size": 9000})),
                422,
                "chunk_size",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "chunk_size": 100, "chunk_overlap": 100})),
                422,
                "chunk_overlap",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "chunk_overlap": -1})),
                422,
                "chunk_overlap",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "metadata": [1]})),
                422,
                "metadata",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "a", "embedding_model": ""})),
                422,
                "embedding_model",
            ),
            (
                "POST /rag/collections/",
                Some(json!({"name": "DOCS"})),
                409,
                "already exists",
            ),
            (
                &format!("PATCH /rag/collections/{id}"),
                Some(json!({"chunk_overlap": 1000})),
                422,
                "chunk_overlap",
            ),
            (
                &format!("PATCH /rag/collections/{id}"),
                Some(json!({"name": null})),
                422,
                "name",
            ),
            ("GET /rag/collections/not-a-uuid", None, 404, "not found"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn lists_are_bare_arrays_newest_first_with_a_total_and_a_search(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    for name in ["alpha notes", "beta manual", "gamma notes"] {
        app.collection(&ada.token, json!({"name": name})).await;
    }
    let page = app.page(&ada.token, "/rag/collections/?limit=2").await;
    assert_eq!(page.total, 3);
    let names: Vec<&str> = page
        .items
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gamma notes", "beta manual"]);
    let page = app.page(&ada.token, "/rag/collections?skip=2").await;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.total, 3);
    let page = app.page(&ada.token, "/rag/collections/?search=NOTES").await;
    assert_eq!(page.total, 2);
    let page = app
        .page(&ada.token, "/rag/collections/?search=100%25")
        .await;
    assert_eq!(page.total, 0, "LIKE wildcards match literally");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn viewers_can_read_and_query_but_not_change_anything(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    let document = app
        .ingest(&ada.token, &id, "a.txt", "shared knowledge")
        .await;
    let viewer = app.member(&ada.token, "val@example.com", &["viewer"]).await;
    app.fetch(&viewer, &format!("/rag/collections/{id}")).await;
    app.page(&viewer, &format!("/rag/collections/{id}/documents"))
        .await;
    let answer = app.query(&viewer, &id, json!({"query": "knowledge"})).await;
    assert_eq!(answer["total_results"], 1);
    let doc_path = format!("/rag/documents/{}", document["id"].as_str().unwrap());
    app.expect_refusals(
        &viewer,
        &[
            (
                "POST /rag/collections/",
                Some(json!({"name": "x"})),
                403,
                "knowledge:write",
            ),
            (
                &format!("PATCH /rag/collections/{id}"),
                Some(json!({"name": "x"})),
                403,
                "knowledge:write",
            ),
            (
                &format!("DELETE /rag/collections/{id}"),
                None,
                403,
                "knowledge:write",
            ),
            (&format!("DELETE {doc_path}"), None, 403, "knowledge:write"),
        ],
    )
    .await;
    let file = || ("b.txt", b"more".to_vec(), None);
    app.upload_refused(&viewer, &id, file(), 403, "knowledge:write")
        .await;
    let developer = app
        .member(&ada.token, "dev@example.com", &["developer"])
        .await;
    app.uploaded(&developer, &id, file(), 201).await;
}
