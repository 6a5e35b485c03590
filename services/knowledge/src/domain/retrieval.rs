//! Retrieval: the chunks of a collection that best answer a query, cached.
//!
//! - **Lexical leg** (always on, no external service): Postgres full-text search
//!   ([`crate::db::chunks::lexical`]) against a generated `tsvector` (headings weighted above
//!   the body), GIN-indexed, ranked by `ts_rank_cd`. Plain questions match any of their
//!   words, chunks with all of them first; a query in web-search syntax (`"a phrase"`, `or`,
//!   `-word`: [`uses_websearch_syntax`]) is `websearch_to_tsquery`, taken strictly.
//! - **Filters** are JSON containment on the document metadata, applied in SQL inside the
//!   match (so top-k is never short when more matches exist).
//! - **Semantic leg** (when an embedding provider is configured and the collection has
//!   vectors by the collection's model): the query is embedded (cached by text), and the
//!   nearest chunks come from the in-process vector index ([`super::vectors`]); a filter
//!   restricts the index search to the chunks it allows (computed in SQL). The two ranked
//!   lists are fused by reciprocal rank fusion with k = 60 ([`super::hybrid`]); `score` is
//!   then the fused score. Without a provider, or when the collection has no vectors, the
//!   lexical order is the answer and `score` its rank. If the provider fails at query time,
//!   the answer is the lexical one (not cached, logged).
//! - **Cache**: results live 15 minutes in the two-tier cache (category `rag`) under
//!   (tenant, collection, collection version, lexical or hybrid, top_k, hash of query and
//!   filter). Every change to a collection or its documents bumps its version, so a cached
//!   result of an older state can never be served; stale entries just expire.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use temponest_cache::categories;
use uuid::Uuid;

use crate::db::chunks;
use crate::state::AppState;

/// Largest filter accepted (as compact JSON).
const MAX_FILTER_BYTES: usize = 4 * 1024;

/// A validated query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub text: String,
    pub top_k: i64,
    pub filter: Option<Filter>,
}

/// A metadata filter: a JSON object the chunk metadata must contain.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(serde_json::Value);

/// Why a filter is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("must be an object of metadata values to match, e.g. {{\"lang\": \"en\"}}")]
    NotObject,
    #[error("`{0}`: operators are not supported; give the value to match")]
    Operator(String),
    #[error("must be at most {MAX_FILTER_BYTES} bytes as JSON")]
    TooLarge,
    #[error("must not contain NUL characters")]
    Nul,
}

impl Filter {
    /// A filter from the request's `filter`: `null` and `{}` filter nothing (`None`).
    pub fn parse(value: serde_json::Value) -> Result<Option<Self>, FilterError> {
        let map = match &value {
            serde_json::Value::Null => return Ok(None),
            serde_json::Value::Object(map) => map,
            _ => return Err(FilterError::NotObject),
        };
        if map.is_empty() {
            return Ok(None);
        }
        if let Some(key) = map.keys().find(|k| k.starts_with('$')) {
            return Err(FilterError::Operator(key.clone()));
        }
        let json = value.to_string();
        if json.len() > MAX_FILTER_BYTES {
            return Err(FilterError::TooLarge);
        }
        if json.contains("\\u0000") {
            return Err(FilterError::Nul);
        }
        Ok(Some(Self(value)))
    }

    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }
}

/// One chunk of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedChunk {
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub metadata: serde_json::Value,
    pub heading_path: Vec<String>,
    pub char_start: i32,
    pub char_end: i32,
    pub filename: String,
    pub score: f64,
}

/// An answer: the best chunks, best first, and how many chunks matched in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrieved {
    pub chunks: Vec<RankedChunk>,
    pub total_matches: i64,
}

/// Why retrieval failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RetrievalError {
    #[error("retrieval query failed: {0}")]
    Database(Arc<sqlx::Error>),
    /// The semantic leg failed (the embedding provider, the vector index); the caller
    /// answers with the lexical leg alone, which had already run: `lexical` is its answer,
    /// cut to `top_k`.
    #[error("semantic retrieval failed: {reason}")]
    Semantic {
        reason: String,
        lexical: Box<Retrieved>,
    },
}

impl From<sqlx::Error> for RetrievalError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(Arc::new(err))
    }
}

/// Which legs answered (part of the cache key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Lexical,
    Hybrid,
}

/// The collection a query runs over: its id, the version its answer is cached under and the
/// model its chunks are embedded with.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant_id: Uuid,
    pub collection_id: Uuid,
    pub version: i64,
    pub embedding_model: String,
}

/// The answer to `query` over the target collection, from the cache when an identical
/// query was answered at this version (in the same mode) in the last 15 min.
pub async fn retrieve(
    state: &AppState,
    target: &Target,
    query: &Query,
) -> Result<Retrieved, RetrievalError> {
    let mode = match state.embedder {
        Some(_) => Mode::Hybrid,
        None => Mode::Lexical,
    };
    let key = cache_key(target, mode, query);
    let answer = state
        .cache
        .get_or_load(&categories::RAG, &key, || async {
            match &state.embedder {
                Some(embedder) => super::hybrid::retrieve(state, embedder, target, query).await,
                None => lexical(&state.pool, target, query, query.top_k).await,
            }
        })
        .await;
    match answer {
        Err(RetrievalError::Semantic { reason, lexical }) => {
            tracing::warn!(%reason, collection = %target.collection_id, "semantic leg failed; answering with the lexical leg");
            metrics::counter!("knowledge_semantic_failures_total").increment(1);
            Ok(*lexical)
        }
        other => other,
    }
}

/// The lexical leg: the `limit` best full-text matches, ranked.
pub async fn lexical(
    pool: &PgPool,
    target: &Target,
    query: &Query,
    limit: i64,
) -> Result<Retrieved, RetrievalError> {
    let hits = chunks::lexical(
        pool,
        target.tenant_id,
        target.collection_id,
        &query.text,
        uses_websearch_syntax(&query.text),
        query.filter.as_ref().map(Filter::as_json),
        limit,
    )
    .await?;
    let total_matches = hits.first().map_or(0, |h| h.total);
    let chunks = hits
        .into_iter()
        .map(|hit| RankedChunk {
            document_id: hit.document_id,
            chunk_index: hit.chunk_index,
            content: hit.content,
            metadata: hit.metadata,
            heading_path: serde_json::from_value(hit.heading_path).unwrap_or_default(),
            char_start: hit.char_start,
            char_end: hit.char_end,
            filename: hit.filename,
            score: hit.score,
        })
        .collect();
    Ok(Retrieved {
        chunks,
        total_matches,
    })
}

/// Whether the query uses web-search syntax (a quoted phrase, `or`, a `-excluded` word) and
/// is taken strictly; plain words match any of them (ranked by how many and how close).
pub fn uses_websearch_syntax(text: &str) -> bool {
    text.contains('"')
        || text.split_whitespace().any(|word| {
            word.eq_ignore_ascii_case("or") || (word.starts_with('-') && word.len() > 1)
        })
}

/// The cache key of a query: everything the answer depends on. The query text and filter
/// are hashed (bounded key length; the text never appears in Redis keys).
fn cache_key(target: &Target, mode: Mode, query: &Query) -> String {
    let mut hasher = Sha256::new();
    hasher.update(query.text.as_bytes());
    hasher.update([0]);
    if let Some(filter) = &query.filter {
        hasher.update(filter.as_json().to_string().as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    let mode = match mode {
        Mode::Lexical => "lex",
        Mode::Hybrid => "hyb",
    };
    format!(
        "{}/{}/v{}/{mode}/k{}/{digest}",
        target.tenant_id, target.collection_id, target.version, query.top_k
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(text: &str, top_k: i64, filter: Option<serde_json::Value>) -> Query {
        Query {
            text: text.to_owned(),
            top_k,
            filter: filter.and_then(|f| Filter::parse(f).unwrap()),
        }
    }

    fn target(tenant_id: Uuid, collection_id: Uuid, version: i64) -> Target {
        Target {
            tenant_id,
            collection_id,
            version,
            embedding_model: "m".into(),
        }
    }

    #[test]
    fn the_cache_key_changes_with_everything_the_answer_depends_on() {
        let (t, c) = (Uuid::now_v7(), Uuid::now_v7());
        let lex = Mode::Lexical;
        let base = cache_key(&target(t, c, 1), lex, &query("install", 5, None));
        let variants = [
            cache_key(
                &target(Uuid::now_v7(), c, 1),
                lex,
                &query("install", 5, None),
            ),
            cache_key(
                &target(t, Uuid::now_v7(), 1),
                lex,
                &query("install", 5, None),
            ),
            cache_key(&target(t, c, 2), lex, &query("install", 5, None)),
            cache_key(&target(t, c, 1), Mode::Hybrid, &query("install", 5, None)),
            cache_key(&target(t, c, 1), lex, &query("install", 6, None)),
            cache_key(&target(t, c, 1), lex, &query("installs", 5, None)),
            cache_key(
                &target(t, c, 1),
                lex,
                &query("install", 5, Some(json!({"a": 1}))),
            ),
        ];
        for v in &variants {
            assert_ne!(&base, v);
        }
        assert_eq!(
            base,
            cache_key(&target(t, c, 1), lex, &query("install", 5, None))
        );
        assert!(!base.contains("install"));
    }

    #[test]
    fn only_phrases_or_and_exclusions_make_a_query_strict() {
        assert!(!uses_websearch_syntax("how do rolling updates work"));
        assert!(!uses_websearch_syntax("state-of-the-art - dash"));
        assert!(uses_websearch_syntax("\"rolling update\""));
        assert!(uses_websearch_syntax("pods OR containers"));
        assert!(uses_websearch_syntax("chess -sicilian"));
    }

    #[test]
    fn filters_are_objects_of_values_and_empty_ones_filter_nothing() {
        assert_eq!(Filter::parse(json!(null)), Ok(None));
        assert_eq!(Filter::parse(json!({})), Ok(None));
        assert!(Filter::parse(json!({"lang": "en"})).unwrap().is_some());
        assert_eq!(Filter::parse(json!(["a"])), Err(FilterError::NotObject));
        assert_eq!(Filter::parse(json!("lang")), Err(FilterError::NotObject));
        assert_eq!(
            Filter::parse(json!({"$or": []})),
            Err(FilterError::Operator("$or".into()))
        );
    }
}
