//! Tenant isolation: another tenant's collections and documents do not exist for a caller.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::spawn_with_collection;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_tenant_gets_404_on_every_path_and_sees_nothing(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({"name": "secrets"})).await;
    let document = app
        .ingest(&ada.token, &id, "plan.txt", "the launch plan")
        .await;
    let doc = document["id"].as_str().unwrap();
    let eve = app.signup("eve@example.com").await;
    app.expect_refusals(
        &eve.token,
        &[
            (
                &format!("GET /rag/collections/{id}"),
                None,
                404,
                "collection",
            ),
            (
                &format!("PATCH /rag/collections/{id}"),
                Some(json!({"name": "mine"})),
                404,
                "collection",
            ),
            (
                &format!("DELETE /rag/collections/{id}"),
                None,
                404,
                "collection",
            ),
            (
                &format!("GET /rag/collections/{id}/documents"),
                None,
                404,
                "collection",
            ),
            (
                &format!("POST /rag/collections/{id}/query"),
                Some(json!({"query": "launch"})),
                404,
                "collection",
            ),
            (&format!("GET /rag/documents/{doc}"), None, 404, "document"),
            (
                &format!("DELETE /rag/documents/{doc}"),
                None,
                404,
                "document",
            ),
        ],
    )
    .await;
    let file = ("x.txt", b"x".to_vec(), None);
    app.upload_refused(&eve.token, &id, file, 404, "collection")
        .await;
    assert_eq!(app.page(&eve.token, "/rag/collections/").await.total, 0);
    // Names are unique per tenant only.
    let own = app.collection(&eve.token, json!({"name": "secrets"})).await;
    let own = own["id"].as_str().unwrap();
    app.ingest(&eve.token, own, "other.txt", "another launch")
        .await;
    let answer = app.query(&eve.token, own, json!({"query": "launch"})).await;
    assert_eq!(answer["total_results"], 1);
    assert_eq!(answer["chunks"][0]["filename"], "other.txt");
    // Ada's document is untouched.
    assert_eq!(
        app.fetch(&ada.token, &format!("/rag/documents/{doc}"))
            .await["status"],
        "ready"
    );
}
