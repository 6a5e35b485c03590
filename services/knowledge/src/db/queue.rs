//! The ingestion queue: documents with status `processing`, claimed by engines with
//! `FOR UPDATE SKIP LOCKED` and a lease. A document whose engine died is claimed again once
//! its lease expires; after `max_attempts` claims it is marked failed instead
//! ([`fail_exhausted`]). Every outcome is written only while the writer still holds the
//! lease, so an engine that lost its lease cannot overwrite the one that took over.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A claimed document.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub collection_id: Uuid,
    pub kind: String,
    pub metadata: serde_json::Value,
    pub attempts: i32,
}

/// What ingestion needs of a claimed document: its bytes and its collection's chunk sizes
/// and embedding model.
#[derive(Debug)]
pub struct Work {
    pub content: Vec<u8>,
    pub chunk_size: i32,
    pub chunk_overlap: i32,
    pub embedding_model: String,
}

/// One chunk to store.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub content: String,
    pub char_start: i32,
    pub char_end: i32,
    pub heading_path: serde_json::Value,
    pub section: String,
    /// The chunk's embedding ([`temponest_vectors::encode`]), when a provider is configured.
    pub embedding: Option<Vec<u8>>,
}

/// Rows per `UNNEST` insert statement (all in the document's one transaction).
const INSERT_BATCH: usize = 2000;

/// Marks failed the documents whose lease expired after their last allowed claim (their
/// engine died or stalled `max_attempts` times), dropping any chunks they had, and bumps
/// their collections' versions (announcing the change). Returns how many.
pub async fn fail_exhausted(pool: &PgPool, max_attempts: i32) -> sqlx::Result<u64> {
    let failed = sqlx::query_scalar!(
        r#"with failed as (
               update knowledge.documents d
               set status = 'failed', leased_by = null, lease_expires_at = null,
                   error = format('ingestion was interrupted %s times (the engine holding the '
                                  'document stopped or stalled); giving up', d.attempts),
                   processed_at = now(), updated_at = now()
               where d.id in (select id from knowledge.documents
                              where status = 'processing' and attempts >= $1
                                and (lease_expires_at is null or lease_expires_at < now())
                              for update skip locked)
               returning d.id, d.collection_id
           ), dropped as (
               delete from knowledge.chunks where document_id in (select id from failed)
           ), bumped as (
               update knowledge.collections set version = version + 1, updated_at = now()
               where id in (select collection_id from failed)
           )
           select count(*) as "count!"
           from failed, lateral (select pg_notify($2, failed.collection_id::text)) announced"#,
        max_attempts,
        super::collections::VECTORS_CHANNEL
    )
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(failed).unwrap_or(0))
}

/// Claims up to `limit` documents for `engine` (oldest first) for `lease`, counting an
/// attempt on each.
pub async fn claim(
    pool: &PgPool,
    engine: Uuid,
    lease: Duration,
    max_attempts: i32,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as!(
        Claimed,
        "update knowledge.documents d
         set leased_by = $1, lease_expires_at = now() + make_interval(secs => $2),
             attempts = attempts + 1, updated_at = now()
         where d.id in (select id from knowledge.documents
                        where status = 'processing' and attempts < $3
                          and (lease_expires_at is null or lease_expires_at < now())
                        order by created_at
                        for update skip locked
                        limit $4)
         returning d.id, d.tenant_id, d.collection_id, d.kind, d.metadata, d.attempts",
        engine,
        lease.as_secs_f64(),
        max_attempts,
        limit
    )
    .fetch_all(pool)
    .await
}

/// The bytes and chunk sizes of a claimed document; `None` if it was deleted meanwhile.
pub async fn work(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Work>> {
    sqlx::query_as!(
        Work,
        "select s.content, c.chunk_size, c.chunk_overlap, c.embedding_model
         from knowledge.documents d
         join knowledge.document_sources s on s.document_id = d.id
         join knowledge.collections c on c.id = d.collection_id
         where d.id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}

/// Locks a document still leased by `engine` and still processing; its collection id, or
/// `None` if the lease was lost (or the document deleted).
async fn lock_leased(
    conn: &mut PgConnection,
    id: Uuid,
    engine: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select collection_id from knowledge.documents
         where id = $1 and leased_by = $2 and status = 'processing'
         for update",
        id,
        engine
    )
    .fetch_optional(conn)
    .await
}

/// Replaces a document's chunks (with their embeddings, stamped `identity`) and marks it
/// ready, in one transaction, if `engine` still holds it; false if it does not (nothing
/// written). The collection's version is bumped and the change announced in the same
/// transaction.
pub async fn complete(
    pool: &PgPool,
    claimed: &Claimed,
    engine: Uuid,
    chunks: &[NewChunk],
    identity: Option<&str>,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(collection_id) = lock_leased(&mut tx, claimed.id, engine).await? else {
        return Ok(false);
    };
    sqlx::query!(
        "delete from knowledge.chunks where document_id = $1",
        claimed.id
    )
    .execute(&mut *tx)
    .await?;
    for (batch_number, batch) in chunks.chunks(INSERT_BATCH).enumerate() {
        let first = batch_number * INSERT_BATCH;
        let indexes: Vec<i32> = (first..first + batch.len())
            .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        let contents: Vec<&str> = batch.iter().map(|c| c.content.as_str()).collect();
        let starts: Vec<i32> = batch.iter().map(|c| c.char_start).collect();
        let ends: Vec<i32> = batch.iter().map(|c| c.char_end).collect();
        let paths: Vec<serde_json::Value> = batch.iter().map(|c| c.heading_path.clone()).collect();
        let sections: Vec<&str> = batch.iter().map(|c| c.section.as_str()).collect();
        let embeddings: Vec<Option<&[u8]>> = batch.iter().map(|c| c.embedding.as_deref()).collect();
        sqlx::query!(
            "insert into knowledge.chunks (document_id, chunk_index, tenant_id, collection_id,
                    content, char_start, char_end, heading_path, section, metadata, embedding,
                    embedding_identity)
             select $1, u.chunk_index, $2, $3, u.content, u.char_start, u.char_end,
                    u.heading_path, u.section, $4, u.embedding,
                    case when u.embedding is null then null else $12 end
             from unnest($5::int4[], $6::text[], $7::int4[], $8::int4[], $9::jsonb[],
                         $10::text[], $11::bytea[])
                  as u(chunk_index, content, char_start, char_end, heading_path, section,
                       embedding)",
            claimed.id,
            claimed.tenant_id,
            collection_id,
            claimed.metadata,
            &indexes,
            &contents as &[&str],
            &starts,
            &ends,
            &paths,
            &sections as &[&str],
            &embeddings as &[Option<&[u8]>],
            identity
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "update knowledge.documents
         set status = 'ready', chunk_count = $2, error = null, leased_by = null,
             lease_expires_at = null, processed_at = now(), updated_at = now()
         where id = $1",
        claimed.id,
        i32::try_from(chunks.len()).unwrap_or(i32::MAX)
    )
    .execute(&mut *tx)
    .await?;
    super::collections::bump_version(&mut tx, collection_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks a document failed with `reason` (a permanent problem with its content), dropping
/// any chunks it had, if `engine` still holds it.
pub async fn fail(pool: &PgPool, id: Uuid, engine: Uuid, reason: &str) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(collection_id) = lock_leased(&mut tx, id, engine).await? else {
        return Ok(false);
    };
    sqlx::query!("delete from knowledge.chunks where document_id = $1", id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "update knowledge.documents
         set status = 'failed', error = $2, chunk_count = 0, leased_by = null,
             lease_expires_at = null, processed_at = now(), updated_at = now()
         where id = $1",
        id,
        reason
    )
    .execute(&mut *tx)
    .await?;
    super::collections::bump_version(&mut tx, collection_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Gives a document back to the queue after a transient failure (the database, a lost
/// task), retried after `delay`; its attempt stays counted.
pub async fn release(pool: &PgPool, id: Uuid, engine: Uuid, delay: Duration) -> sqlx::Result<()> {
    sqlx::query!(
        "update knowledge.documents
         set leased_by = null, lease_expires_at = now() + make_interval(secs => $3),
             updated_at = now()
         where id = $1 and leased_by = $2 and status = 'processing'",
        id,
        engine,
        delay.as_secs_f64()
    )
    .execute(pool)
    .await?;
    Ok(())
}
