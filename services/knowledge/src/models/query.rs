//! API types of retrieval: `QueryIn` (validated into a [`crate::domain::retrieval::Query`])
//! and `QueryOut`.

use serde::{Deserialize, Serialize};
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::retrieval::{Filter, Query, RankedChunk, Retrieved};

const MAX_QUERY: usize = 1_000;
const DEFAULT_TOP_K: i64 = 5;
/// `top_k` accepted.
pub const TOP_K_RANGE: std::ops::RangeInclusive<i64> = 1..=100;

/// `POST /rag/collections/{id}/query`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QueryIn {
    /// Search text, in web-search syntax: words, `"quoted phrases"`, `or`, `-excluded`.
    pub query: String,
    /// Chunks to return (default 5, 1–100).
    pub top_k: Option<i64>,
    /// Metadata the chunks must contain (JSON containment, `@>`): `{"lang": "en"}` matches
    /// documents whose metadata has `lang` = `"en"`; `{"tags": ["a"]}` those whose `tags`
    /// array includes `"a"`. An object; `null` or `{}` filters nothing.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
}

impl QueryIn {
    pub fn validate(self) -> Result<Query, ApiError> {
        let mut errors = Vec::new();
        let text = self.query.trim().to_owned();
        if text.is_empty() {
            errors.push(FieldError::new("query", "must not be blank"));
        } else if text.chars().count() > MAX_QUERY {
            errors.push(FieldError::new(
                "query",
                format!("must be at most {MAX_QUERY} characters"),
            ));
        }
        let top_k = self.top_k.unwrap_or(DEFAULT_TOP_K);
        if !TOP_K_RANGE.contains(&top_k) {
            errors.push(FieldError::new(
                "top_k",
                format!(
                    "must be between {} and {}",
                    TOP_K_RANGE.start(),
                    TOP_K_RANGE.end()
                ),
            ));
        }
        let filter = match self.filter.map(Filter::parse).transpose() {
            Ok(filter) => filter.flatten(),
            Err(err) => {
                errors.push(FieldError::new("filter", err.to_string()));
                None
            }
        };
        if errors.is_empty() {
            Ok(Query {
                text,
                top_k,
                filter,
            })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChunkOut {
    pub content: String,
    /// The document's metadata.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Relevance (higher is better): the full-text score (0..1) when retrieval is lexical
    /// only; with an embedding provider, the reciprocal-rank-fusion score of the lexical and
    /// semantic ranks (`Σ 1/(60 + rank)`, at most 2/61).
    pub score: f64,
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub filename: String,
    /// Enclosing headings (Markdown and HTML documents), outermost first.
    pub heading_path: Vec<String>,
    /// Character offsets into the document's extracted text.
    pub char_start: i32,
    pub char_end: i32,
}

/// The answer to a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueryOut {
    pub chunks: Vec<ChunkOut>,
    pub query: String,
    pub collection_id: Uuid,
    /// Chunks returned.
    pub total_results: usize,
    /// Chunks of the collection that matched (before `top_k`); hybrid: the lexical matches
    /// plus the chunks only the semantic leg's candidates added.
    pub total_matches: i64,
}

impl QueryOut {
    pub fn new(collection_id: Uuid, query: String, retrieved: Retrieved) -> Self {
        let chunks: Vec<ChunkOut> = retrieved.chunks.into_iter().map(ChunkOut::from).collect();
        Self {
            total_results: chunks.len(),
            total_matches: retrieved.total_matches,
            chunks,
            query,
            collection_id,
        }
    }
}

impl From<RankedChunk> for ChunkOut {
    fn from(chunk: RankedChunk) -> Self {
        Self {
            content: chunk.content,
            metadata: chunk.metadata,
            score: chunk.score,
            document_id: chunk.document_id,
            chunk_index: chunk.chunk_index,
            filename: chunk.filename,
            heading_path: chunk.heading_path,
            char_start: chunk.char_start,
            char_end: chunk.char_end,
        }
    }
}
