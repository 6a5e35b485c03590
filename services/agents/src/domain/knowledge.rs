//! The knowledge service as the agents service calls it: over HTTP, for the agent's tenant,
//! with a short-lived service token of the `agents` identity from auth (never a user's
//! token), timeouts, and one repeat of calls that failed before anything ran. Both calls are
//! reads, so repeating them is safe.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temponest_auth_client::{Peer, PeerClient, PeerError, ServiceTokens};
use uuid::Uuid;

/// Timeout of one call to the knowledge service.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The knowledge service as the agents service calls it: a failed call is sent once more.
const KNOWLEDGE: Peer = Peer::new("knowledge service", 1, Duration::from_millis(200));

/// One chunk of a query answer, as the knowledge service sends it (the fields the tool uses).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chunk {
    pub content: String,
    pub score: f64,
    pub document_id: Uuid,
    pub chunk_index: i32,
    #[serde(default)]
    pub filename: Option<String>,
}

#[derive(Deserialize)]
struct QueryAnswer {
    chunks: Vec<Chunk>,
}

/// HTTP client of the knowledge service. Cheap to clone.
#[derive(Clone)]
pub struct KnowledgeClient {
    peer: PeerClient,
}

impl KnowledgeClient {
    pub fn new(base: &str, tokens: ServiceTokens) -> Result<Self, reqwest::Error> {
        let peer = PeerClient::new(KNOWLEDGE, base, tokens, Some(REQUEST_TIMEOUT))?;
        Ok(Self { peer })
    }

    /// Whether `collection_id` is a collection of `tenant` (`GET /rag/collections/{id}`).
    pub async fn collection_exists(
        &self,
        tenant: Uuid,
        collection_id: Uuid,
    ) -> Result<bool, PeerError> {
        let url = self.peer.url(&format!("/rag/collections/{collection_id}"));
        match self.peer.call(tenant, true, |http| http.get(&url)).await {
            Ok(_) => Ok(true),
            Err(PeerError::NotFound(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The `top_k` best chunks of one collection for `query`.
    pub async fn query(
        &self,
        tenant: Uuid,
        collection_id: Uuid,
        query: &str,
        top_k: u32,
    ) -> Result<Vec<Chunk>, PeerError> {
        let url = self
            .peer
            .url(&format!("/rag/collections/{collection_id}/query"));
        let body = serde_json::json!({ "query": query, "top_k": top_k });
        let response = self
            .peer
            .call(tenant, true, |http| http.post(&url).json(&body))
            .await?;
        response
            .json::<QueryAnswer>()
            .await
            .map(|answer| answer.chunks)
            .map_err(|e| {
                PeerError::Unavailable(format!("unreadable answer of the knowledge service: {e}"))
            })
    }
}
