//! The knowledge service as the agents service calls it: over HTTP, for the agent's tenant,
//! with a short-lived service token of the `agents` identity from auth (never a user's
//! token), timeouts, and one repeat of calls that failed before anything ran. Both calls are
//! reads, so repeating them is safe.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temponest_auth_client::{ServiceCallError, ServiceTokenError, ServiceTokens};
use uuid::Uuid;

/// Timeout of one call to the knowledge service.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Wait before the one repeat of a call that could not reach the service (or got 502–504).
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Why a call to the knowledge service failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KnowledgeError {
    /// The collection does not exist in the tenant.
    #[error("{0}")]
    NotFound(String),
    /// Refused for good (4xx other than 404), e.g. an invalid query.
    #[error("{0}")]
    Rejected(String),
    /// Unreachable, timed out or answered 5xx; or auth could not issue a token.
    #[error("{0}")]
    Unavailable(String),
}

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
    base: String,
    http: reqwest::Client,
    tokens: ServiceTokens,
}

impl KnowledgeClient {
    pub fn new(base: &str, tokens: ServiceTokens) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            tokens,
        })
    }

    /// Whether `collection_id` is a collection of `tenant` (`GET /rag/collections/{id}`).
    pub async fn collection_exists(
        &self,
        tenant: Uuid,
        collection_id: Uuid,
    ) -> Result<bool, KnowledgeError> {
        let url = format!("{}/rag/collections/{collection_id}", self.base);
        match self.send(tenant, |http| http.get(&url)).await {
            Ok(_) => Ok(true),
            Err(KnowledgeError::NotFound(_)) => Ok(false),
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
    ) -> Result<Vec<Chunk>, KnowledgeError> {
        let url = format!("{}/rag/collections/{collection_id}/query", self.base);
        let body = serde_json::json!({ "query": query, "top_k": top_k });
        let response = self
            .send(tenant, |http| http.post(&url).json(&body))
            .await?;
        response
            .json::<QueryAnswer>()
            .await
            .map(|answer| answer.chunks)
            .map_err(|e| {
                KnowledgeError::Unavailable(format!(
                    "unreadable answer of the knowledge service: {e}"
                ))
            })
    }

    /// Sends as the tenant's service identity ([`ServiceTokens::send`]: a 401 refreshes the
    /// token once); connection failures, timeouts and 502/503/504 are repeated once.
    async fn send(
        &self,
        tenant: Uuid,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, KnowledgeError> {
        let mut repeated = false;
        loop {
            let failure = match self.tokens.send(tenant, || build(&self.http)).await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let detail = detail_of(response).await;
                    match status.as_u16() {
                        404 => return Err(KnowledgeError::NotFound(detail)),
                        502..=504 => KnowledgeError::Unavailable(detail),
                        500..=599 => return Err(KnowledgeError::Unavailable(detail)),
                        _ => return Err(KnowledgeError::Rejected(detail)),
                    }
                }
                Err(ServiceCallError::Token(err)) => {
                    return Err(KnowledgeError::Unavailable(match err {
                        ServiceTokenError::Rejected(detail) => format!(
                            "the auth service refused the agents service's identity: {detail}"
                        ),
                        ServiceTokenError::Unavailable(detail) => {
                            format!("auth service unavailable: {detail}")
                        }
                    }));
                }
                Err(ServiceCallError::Transport(err)) if err.is_connect() || err.is_timeout() => {
                    KnowledgeError::Unavailable(format!("knowledge service unreachable: {err}"))
                }
                Err(ServiceCallError::Transport(err)) => {
                    return Err(KnowledgeError::Unavailable(format!(
                        "knowledge service call failed: {err}"
                    )));
                }
            };
            if repeated {
                return Err(failure);
            }
            repeated = true;
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
}

/// "knowledge service answered 422 …: <detail>" from an error response.
async fn detail_of(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    temponest_web::peer::describe_error_answer("knowledge service", status, &body)
}
