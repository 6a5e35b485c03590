//! `knowledge.chunks` for retrieval: the lexical leg (Postgres full-text search).

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
