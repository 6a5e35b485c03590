//! `knowledge.collections`: tenant-scoped CRUD, the document count and the version that keys
//! cached query results.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::models::CollectionSpec;

/// Channel on which every change to a collection's chunks (and so its vectors) is announced,
/// with the collection id as payload, in the changing transaction. Each process's vector
/// indexes listen to it ([`crate::domain::vectors`]).
pub const VECTORS_CHANNEL: &str = "knowledge_vectors";

/// Announces (on commit) that a collection's chunks or definition changed.
pub async fn announce_change(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("select pg_notify($1, $2::uuid::text)", VECTORS_CHANNEL, id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A collection's version and embedding model: what a query needs to know about it.
#[derive(Debug, Clone)]
pub struct QueryTarget {
    pub version: i64,
    pub embedding_model: String,
}

/// One collection row with its document count.
#[derive(Debug, Clone)]
pub struct CollectionRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub embedding_model: String,
    pub chunk_size: i32,
    pub chunk_overlap: i32,
    pub metadata: serde_json::Value,
    pub version: i64,
    pub document_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Every statement that reads or returns whole collection rows goes through
// `collection_rows!`; they name the collection `c`, which the document count reads.
temponest_db::define_rows! {
    $ collection_rows: CollectionRow { id, tenant_id, name, description, embedding_model,
                                       chunk_size, chunk_overlap, metadata, version,
                                       document_count, created_at, updated_at },
    columns: r#"c.id, c.tenant_id, c.name, c.description, c.embedding_model, c.chunk_size,
                c.chunk_overlap, c.metadata, c.version,
                (select count(*) from knowledge.documents d
                  where d.tenant_id = c.tenant_id and d.collection_id = c.id)
                  as "document_count!",
                c.created_at, c.updated_at"#,
}

/// `statement` returning the collection row, over `$1` the collection's id, `$2` its tenant
/// and `$3`..`$8` the fields of its definition, in the order of [`CollectionSpec`].
macro_rules! with_spec {
    ($statement:literal, $id:expr, $tenant_id:expr, $spec:expr) => {
        collection_rows!(
            returning $statement,
            $id,
            $tenant_id,
            $spec.name,
            $spec.description,
            $spec.embedding_model,
            $spec.chunk_size,
            $spec.chunk_overlap,
            $spec.metadata
        )
    };
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    tenant_id: Uuid,
    spec: &CollectionSpec,
) -> sqlx::Result<CollectionRow> {
    with_spec!(
        "insert into knowledge.collections as c (id, tenant_id, name, description,
                embedding_model, chunk_size, chunk_overlap, metadata)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        tenant_id,
        spec
    )
    .fetch_one(conn)
    .await
}

// `find` and `find_for_update`: a collection of the tenant with its document count.
collection_rows!(find {
    table: "knowledge.collections c",
    live: "true",
    metric: "knowledge.collections",
    doc: "collection",
});

/// The version of a collection of the tenant (what query results are cached under).
pub async fn version(pool: &PgPool, tenant_id: Uuid, id: Uuid) -> sqlx::Result<Option<i64>> {
    temponest_db::timed(
        "knowledge.collections.version",
        sqlx::query_scalar!(
            "select version from knowledge.collections where id = $1 and tenant_id = $2",
            id,
            tenant_id
        )
        .fetch_optional(pool),
    )
    .await
}

/// The version and embedding model of a collection of the tenant.
pub async fn query_target(
    pool: &PgPool,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<QueryTarget>> {
    temponest_db::timed(
        "knowledge.collections.query_target",
        sqlx::query_as!(
            QueryTarget,
            "select version, embedding_model from knowledge.collections
             where id = $1 and tenant_id = $2",
            id,
            tenant_id
        )
        .fetch_optional(pool),
    )
    .await
}

/// The current versions of the collections among `ids` that still exist.
pub async fn versions(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        "select id, version from knowledge.collections where id = any($1)",
        ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.version)).collect())
}

/// The tenant's collections newest first, optionally filtered by a case-insensitive
/// substring of name or description, with the total matching count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    search: Option<&str>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<CollectionRow>, i64)> {
    let pattern = search.map(temponest_db::contains_pattern);
    collection_rows!(
        page pool, "knowledge.collections.list", skip, limit,
        from: "knowledge.collections c
               where c.tenant_id = $1
                 and ($2::text is null or c.name ilike $2 or c.description ilike $2)",
        order: "order by c.created_at desc, c.id desc offset $3 limit $4",
        filter: [tenant_id, pattern],
    )
    .await
}

/// Replaces the definition of a collection (the caller merged the patch), bumps its
/// version and announces the change.
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    spec: &CollectionSpec,
) -> sqlx::Result<Option<CollectionRow>> {
    let row = with_spec!(
        "update knowledge.collections c
         set name = $3, description = $4, embedding_model = $5, chunk_size = $6,
             chunk_overlap = $7, metadata = $8, version = version + 1, updated_at = now()
         where id = $1 and tenant_id = $2",
        id,
        tenant_id,
        spec
    )
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        announce_change(conn, id).await?;
    }
    Ok(row)
}

/// Bumps a collection's version (a document was added, ingested or deleted) and announces
/// the change on [`VECTORS_CHANNEL`].
pub async fn bump_version(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update knowledge.collections set version = version + 1, updated_at = now()
         where id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    announce_change(conn, id).await
}

/// Deletes a collection with its documents, sources, chunks and vectors (cascade) and
/// announces it; false if there was none.
pub async fn delete(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from knowledge.collections where id = $1 and tenant_id = $2",
        id,
        tenant_id
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        announce_change(conn, id).await?;
        return Ok(true);
    }
    Ok(false)
}
