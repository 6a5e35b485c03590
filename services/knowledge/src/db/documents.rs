//! `knowledge.documents` and their sources for the API: insertion with content-hash
//! deduplication, reads and deletion, all tenant-scoped. The ingestion queue over the same
//! table is [`super::queue`].

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Channel that wakes ingestion engines (sent in the upload's transaction).
pub const WAKE_CHANNEL: &str = "knowledge_ingest";

/// One document row (as the API shows it).
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub collection_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub kind: String,
    pub size_bytes: i64,
    pub content_hash: Vec<u8>,
    pub metadata: serde_json::Value,
    pub status: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub chunk_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

// Every statement that reads or returns whole document rows goes through `document_rows!`.
temponest_db::define_rows! {
    $ document_rows: DocumentRow { id, tenant_id, collection_id, filename, content_type, kind,
                                   size_bytes, content_hash, metadata, status, error,
                                   attempts, chunk_count, created_at, updated_at,
                                   processed_at },
    columns: "id, tenant_id, collection_id, filename, content_type, kind, size_bytes,
              content_hash, metadata, status, error, attempts, chunk_count, created_at,
              updated_at, processed_at",
}

/// A new document.
#[derive(Debug)]
pub struct NewDocument<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub collection_id: Uuid,
    pub filename: &'a str,
    pub kind: crate::domain::formats::Kind,
    pub size_bytes: i64,
    pub content_hash: &'a [u8],
    pub metadata: &'a serde_json::Value,
}

/// Inserts a document queued for ingestion, unless the collection already holds the same
/// content: then nothing is written and `None` is returned.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewDocument<'_>,
) -> sqlx::Result<Option<DocumentRow>> {
    document_rows!(
        returning "insert into knowledge.documents (id, tenant_id, collection_id, filename,
                content_type, kind, size_bytes, content_hash, metadata)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (collection_id, content_hash) do nothing",
        new.id,
        new.tenant_id,
        new.collection_id,
        new.filename,
        new.kind.content_type(),
        new.kind.as_str(),
        new.size_bytes,
        new.content_hash,
        new.metadata
    )
    .fetch_optional(conn)
    .await
}

/// Stores a document's uploaded bytes and wakes the ingestion engines (on commit).
pub async fn insert_source(conn: &mut PgConnection, id: Uuid, content: &[u8]) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into knowledge.document_sources (document_id, content) values ($1, $2)",
        id,
        content
    )
    .execute(&mut *conn)
    .await?;
    wake_engines(conn).await
}

/// Wakes the ingestion engines (on commit).
async fn wake_engines(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("select pg_notify($1, '')", WAKE_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// The document of the collection with this content.
pub async fn find_by_hash(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    collection_id: Uuid,
    content_hash: &[u8],
) -> sqlx::Result<Option<DocumentRow>> {
    document_rows!(
        select "from knowledge.documents
                where tenant_id = $1 and collection_id = $2 and content_hash = $3",
        tenant_id,
        collection_id,
        content_hash
    )
    .fetch_optional(conn)
    .await
}

document_rows!(find_unlocked {
    table: "knowledge.documents",
    metric: "knowledge.documents",
    doc: "document",
});

/// A collection's documents newest first, optionally of one status, with the total count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    status: Option<&str>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<DocumentRow>, i64)> {
    document_rows!(
        page pool, "knowledge.documents.list", skip, limit,
        from: "knowledge.documents
               where tenant_id = $1 and collection_id = $2
                 and ($3::text is null or status = $3)",
        order: "order by created_at desc, id desc offset $4 limit $5",
        filter: [tenant_id, collection_id, status],
    )
    .await
}

/// Deletes a document of the tenant with its source and chunks; its collection's id if
/// there was one.
pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "delete from knowledge.documents where id = $1 and tenant_id = $2
         returning collection_id",
        id,
        tenant_id
    )
    .fetch_optional(conn)
    .await
}

/// Queues every document of a collection for ingestion again (its chunk sizes changed).
/// Their current chunks keep being served until the new ones replace them.
pub async fn requeue_collection(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    collection_id: Uuid,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update knowledge.documents
         set status = 'processing', attempts = 0, error = null, leased_by = null,
             lease_expires_at = null, updated_at = now()
         where tenant_id = $1 and collection_id = $2",
        tenant_id,
        collection_id
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        wake_engines(conn).await?;
    }
    Ok(done.rows_affected())
}
