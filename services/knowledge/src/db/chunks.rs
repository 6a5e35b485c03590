//! `knowledge.chunks` for retrieval: the lexical leg (Postgres full-text search), and for the
//! semantic leg the stored embeddings, the chunks a metadata filter allows, and chunks by key.

use sqlx::PgPool;
use uuid::Uuid;

/// One ranked chunk.
#[derive(Debug, Clone)]
pub struct LexicalHit {
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub metadata: serde_json::Value,
    pub heading_path: serde_json::Value,
    pub char_start: i32,
    pub char_end: i32,
    pub filename: String,
    /// `ts_rank_cd` normalised to 0..1 (`rank / (rank + 1)`).
    pub score: f64,
    /// How many chunks of the collection match (before `top_k`).
    pub total: i64,
}

/// The `limit` chunks of a collection that best match `query` (English stemming), among
/// those whose metadata contains `filter` (jsonb `@>`). The filter is applied inside the
/// match, before the limit, so a filtered top-k is never short while more matching chunks
/// exist. Only chunks of successfully ingested documents exist (they are written with the
/// `ready` status).
///
/// With `websearch` the query is `websearch_to_tsquery` syntax taken strictly (quoted
/// phrases, `or`, `-word`). Otherwise any of its words matches (`plainto_tsquery`'s AND
/// turned into OR), and chunks holding every word rank above those holding some: the score
/// is `(ts_rank_cd(any words, normalised 0..1) + [all words present]) / 2`.
pub async fn lexical(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    query: &str,
    websearch: bool,
    filter: Option<&serde_json::Value>,
    limit: i64,
) -> sqlx::Result<Vec<LexicalHit>> {
    temponest_db::timed(
        "knowledge.chunks.lexical",
        sqlx::query_as!(
            LexicalHit,
            r#"with q as (
                   select case when $6 then websearch_to_tsquery('english', $3)
                               else plainto_tsquery('english', $3) end as every,
                          case when $6 then websearch_to_tsquery('english', $3)
                               else replace(plainto_tsquery('english', $3)::text, ' & ', ' | ')::tsquery
                          end as some
               ), hits as (
                   -- Scored in a subquery of its own (offset 0 keeps it one), so the count
                   -- window carries scores rather than search vectors.
                   select m.document_id, m.chunk_index, m.score, count(*) over () as total
                   from (select c.document_id, c.chunk_index,
                                ((ts_rank_cd(c.search, q.some, 32) + (c.search @@ q.every)::int)
                                  / 2)::float8 as score
                         from knowledge.chunks c, q
                         where c.tenant_id = $1 and c.collection_id = $2 and c.search @@ q.some
                           and ($4::jsonb is null or c.metadata @> $4)
                         offset 0) m
                   order by m.score desc, m.document_id, m.chunk_index
                   limit $5
               )
               select h.document_id, h.chunk_index, c.content, c.metadata, c.heading_path,
                      c.char_start, c.char_end, d.filename, h.score as "score!",
                      h.total as "total!"
               from hits h
               join knowledge.chunks c
                 on c.document_id = h.document_id and c.chunk_index = h.chunk_index
               join knowledge.documents d on d.id = h.document_id and d.tenant_id = $1
               order by h.score desc, h.document_id, h.chunk_index"#,
            tenant_id,
            collection_id,
            query,
            filter,
            limit,
            websearch
        )
        .fetch_all(pool),
    )
    .await
}

/// A chunk's stored embedding.
#[derive(Debug, Clone)]
pub struct StoredVector {
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub embedding: Vec<u8>,
}

/// The embeddings of a collection's chunks made by `identity` (`provider/model@dims`);
/// chunks embedded by another model are left out.
pub async fn vectors(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    identity: &str,
) -> sqlx::Result<Vec<StoredVector>> {
    temponest_db::timed(
        "knowledge.chunks.vectors",
        sqlx::query_as!(
            StoredVector,
            r#"select document_id, chunk_index, embedding as "embedding!"
               from knowledge.chunks
               where tenant_id = $1 and collection_id = $2 and embedding_identity = $3"#,
            tenant_id,
            collection_id,
            identity
        )
        .fetch_all(pool),
    )
    .await
}

/// How many of a collection's chunks carry an embedding made by `identity` (the size of the
/// index [`vectors`] would load).
pub async fn vector_count(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    identity: &str,
) -> sqlx::Result<i64> {
    temponest_db::timed(
        "knowledge.chunks.vector_count",
        sqlx::query_scalar!(
            r#"select count(*) as "count!"
               from knowledge.chunks
               where tenant_id = $1 and collection_id = $2 and embedding_identity = $3"#,
            tenant_id,
            collection_id,
            identity
        )
        .fetch_one(pool),
    )
    .await
}

/// The keys (document, chunk index) of a collection's chunks whose metadata contains
/// `filter`: the allow-set of a filtered semantic search.
pub async fn matching_filter(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    filter: &serde_json::Value,
) -> sqlx::Result<Vec<(Uuid, i32)>> {
    let rows = temponest_db::timed(
        "knowledge.chunks.matching_filter",
        sqlx::query!(
            "select document_id, chunk_index from knowledge.chunks
             where tenant_id = $1 and collection_id = $2 and metadata @> $3",
            tenant_id,
            collection_id,
            filter
        )
        .fetch_all(pool),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.document_id, r.chunk_index))
        .collect())
}

/// One chunk as an answer shows it.
#[derive(Debug, Clone)]
pub struct ChunkRow {
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub metadata: serde_json::Value,
    pub heading_path: serde_json::Value,
    pub char_start: i32,
    pub char_end: i32,
    pub filename: String,
}

/// The chunks of a collection with these keys (`document_ids[i]`, `chunk_indexes[i]`), in
/// no particular order; keys of chunks deleted meanwhile are missing.
pub async fn by_keys(
    pool: &PgPool,
    tenant_id: Uuid,
    collection_id: Uuid,
    document_ids: &[Uuid],
    chunk_indexes: &[i32],
) -> sqlx::Result<Vec<ChunkRow>> {
    temponest_db::timed(
        "knowledge.chunks.by_keys",
        sqlx::query_as!(
            ChunkRow,
            r#"select c.document_id, c.chunk_index, c.content, c.metadata, c.heading_path,
                      c.char_start, c.char_end, d.filename
               from unnest($3::uuid[], $4::int4[]) as k(document_id, chunk_index)
               join knowledge.chunks c
                 on c.document_id = k.document_id and c.chunk_index = k.chunk_index
               join knowledge.documents d on d.id = c.document_id and d.tenant_id = $1
               where c.tenant_id = $1 and c.collection_id = $2"#,
            tenant_id,
            collection_id,
            document_ids,
            chunk_indexes
        )
        .fetch_all(pool),
    )
    .await
}
