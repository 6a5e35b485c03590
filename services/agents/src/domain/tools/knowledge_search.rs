//! `knowledge_search`: searches the agent's knowledge collections (`rag_collection_ids`). It is
//! not listed in an agent's `tools`: every agent with collections is offered it. Each
//! collection is queried at the knowledge service at once (for the agent's tenant); the
//! answers are merged by score and the best `top_k` chunks are the tool's result, and the
//! execution's citations.

use futures::future::join_all;
use serde::Deserialize;
use serde_json::{Value, json};
use temponest_llm::ToolSpec;
use uuid::Uuid;

use super::ToolError;
use crate::domain::knowledge::KnowledgeClient;
use crate::models::Citation;

pub const NAME: &str = "knowledge_search";

/// The most chunks one call returns.
pub const MAX_TOP_K: u32 = 10;
const DEFAULT_TOP_K: u32 = 5;
/// The longest query accepted (characters).
const MAX_QUERY: usize = 1_000;

/// The function-calling spec offered to agents with collections.
pub fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME.to_owned(),
        description: "Searches the knowledge base (the documents of this agent's collections) and returns the most relevant passages, best first, with their document id and score. Use it to answer from those documents.".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what to look for (words or a question)"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K,
                          "description": "how many passages to return"}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    query: String,
    top_k: Option<u32>,
}

/// What a search found: the tool's result for the model and the chunks to cite.
pub struct Found {
    pub result: Value,
    pub citations: Vec<Citation>,
}

/// Runs a search over `collections` of `tenant`.
pub async fn run(
    client: Option<&KnowledgeClient>,
    tenant: Uuid,
    collections: &[Uuid],
    arguments: &Value,
) -> Result<Found, ToolError> {
    let args = Arguments::deserialize(arguments).map_err(ToolError::InvalidArguments)?;
    let query = args.query.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY {
        return Err(ToolError::InvalidQuery(format!(
            "query must be 1 to {MAX_QUERY} characters"
        )));
    }
    let top_k = args.top_k.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(ToolError::InvalidQuery(format!(
            "top_k must be between 1 and {MAX_TOP_K}"
        )));
    }
    let client = client.ok_or(ToolError::KnowledgeNotConfigured)?;
    let answers = join_all(
        collections
            .iter()
            .map(|&id| async move { (id, client.query(tenant, id, query, top_k).await) }),
    )
    .await;
    let mut chunks = Vec::new();
    let mut failures = Vec::new();
    for (collection_id, answer) in answers {
        match answer {
            Ok(found) => chunks.extend(found.into_iter().map(|c| (collection_id, c))),
            Err(err) => failures.push(format!("collection {collection_id}: {err}")),
        }
    }
    // Every collection failed: the model is told why (a partial answer is still an answer).
    if chunks.is_empty() && !failures.is_empty() {
        return Err(ToolError::Knowledge(failures.join("; ")));
    }
    chunks.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    chunks.truncate(top_k as usize);
    let citations = chunks
        .iter()
        .map(|(collection_id, c)| Citation {
            collection_id: *collection_id,
            document_id: c.document_id,
            chunk_index: c.chunk_index,
            score: c.score,
        })
        .collect();
    let results: Vec<Value> = chunks
        .into_iter()
        .map(|(collection_id, c)| {
            json!({
                "content": c.content,
                "document_id": c.document_id,
                "chunk_index": c.chunk_index,
                "score": c.score,
                "collection_id": collection_id,
                "filename": c.filename,
            })
        })
        .collect();
    let mut result = json!({ "query": query, "results": results });
    if !failures.is_empty() {
        result["unavailable"] = json!(failures);
    }
    Ok(Found { result, citations })
}
