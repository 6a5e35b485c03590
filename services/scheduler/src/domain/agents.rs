//! The agents service as the scheduler calls it: over HTTP, for a schedule's tenant, with a
//! short-lived service token from auth (never a stored user token), timeouts, and retries of
//! calls that are safe to repeat.
//!
//! A run uses the streaming form of `POST /agents/{id}/execute`: its `X-Execution-Id`
//! arrives with the response head, so the scheduler records which agent execution belongs
//! to the attempt before the model answers — the key to cancelling it at the timeout and to
//! adopting it (instead of running the task twice) after a crash or a release.

use std::time::Duration;

use serde::Deserialize;
use temponest_auth_client::{Peer, PeerClient, PeerError, ServiceTokens};
use uuid::Uuid;

use temponest_db::named;

/// The agents service as the scheduler calls it: a failed call is sent twice more at most.
const AGENTS: Peer = Peer::new("agents service", 2, Duration::from_millis(200));

/// An agent execution's status, as the agents API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentExecutionStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

/// The agents API's finer result of an execution, as far as this version knows them. The
/// status decides whether a run failed; the outcome only says how (see
/// [`AgentExecution::outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentOutcome {
    Completed,
    Failed,
    Cancelled,
    Interrupted,
    TimedOut,
    MaxIterations,
    Abandoned,
    BudgetExceeded,
}

named!(AgentOutcome, "agent outcome",
    Completed => "completed", Failed => "failed", Cancelled => "cancelled",
    Interrupted => "interrupted", TimedOut => "timed_out", MaxIterations => "max_iterations",
    Abandoned => "abandoned", BudgetExceeded => "budget_exceeded");

/// An agent execution as the scheduler needs it (a subset of the agents API's Execution).
#[derive(Debug, Clone, Deserialize)]
pub struct AgentExecution {
    pub id: Uuid,
    pub status: AgentExecutionStatus,
    /// The outcome's name as the agents service sent it: a newer agents service may name one
    /// this version does not know, which must not make a finished execution unreadable.
    #[serde(rename = "outcome")]
    pub outcome_name: Option<String>,
    pub response: Option<String>,
    pub tokens_used: Tokens,
    pub cost_usd: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Tokens {
    pub prompt: i64,
    pub completion: i64,
}

impl AgentExecution {
    /// The outcome, when this version knows its name.
    pub fn outcome(&self) -> Option<AgentOutcome> {
        self.outcome_name
            .as_deref()
            .and_then(|name| AgentOutcome::parse(name).ok())
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            AgentExecutionStatus::Completed | AgentExecutionStatus::Failed
        )
    }
}

/// [`AgentsClient::new`] could not build its HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("HTTP client: {0}")]
pub struct AgentsClientError(#[from] reqwest::Error);

/// HTTP client of the agents service. Cheap to clone.
#[derive(Clone)]
pub struct AgentsClient {
    peer: PeerClient,
    request_timeout: Duration,
}

impl AgentsClient {
    /// `request_timeout` bounds each call but the two whose answers stream (`start`,
    /// `follow`).
    pub fn new(
        base: &str,
        tokens: ServiceTokens,
        request_timeout: Duration,
    ) -> Result<Self, AgentsClientError> {
        let peer = PeerClient::new(AGENTS, base, tokens, None)?;
        Ok(Self {
            peer,
            request_timeout,
        })
    }

    /// Whether the agent exists (and is live) in the tenant.
    pub async fn agent_exists(&self, tenant: Uuid, agent_id: Uuid) -> Result<bool, PeerError> {
        let url = self.peer.url(&format!("/agents/{agent_id}"));
        match self
            .peer
            .call(tenant, true, |http| {
                http.get(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(PeerError::NotFound(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Starts a streamed execution; returns its id and the response whose body streams the
    /// frames (drain it to wait for the end).
    pub async fn start(
        &self,
        tenant: Uuid,
        agent_id: Uuid,
        task: &serde_json::Value,
    ) -> Result<(Uuid, reqwest::Response), PeerError> {
        let url = self.peer.url(&format!("/agents/{agent_id}/execute"));
        let body = serde_json::json!({
            "user_message": task.get("user_message").cloned().unwrap_or_default(),
            "context": task.get("context").cloned().unwrap_or(serde_json::Value::Null),
            "stream": true,
        });
        // Not repeated once sent (it would start a second execution): only connection
        // failures, where nothing reached the agents service, are retried.
        let response = self
            .peer
            .call(tenant, false, |http| http.post(&url).json(&body))
            .await
            .map_err(|err| match err {
                PeerError::NotFound(_) => {
                    PeerError::NotFound(format!("agent {agent_id} not found (deleted?)"))
                }
                other => other,
            })?;
        let id = response
            .headers()
            .get("x-execution-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                PeerError::Unavailable("the agents service sent no X-Execution-Id".to_owned())
            })?;
        Ok((id, response))
    }

    /// An execution of the tenant (None when the agents service does not know it).
    pub async fn execution(
        &self,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<Option<AgentExecution>, PeerError> {
        let url = self.peer.url(&format!("/executions/{id}"));
        match self
            .peer
            .call(tenant, true, |http| {
                http.get(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(response) => response
                .json::<AgentExecution>()
                .await
                .map(Some)
                .map_err(|e| PeerError::Unavailable(format!("unreadable execution: {e}"))),
            Err(PeerError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Follows an execution started elsewhere until it ends (the stream of
    /// `GET /executions/{id}/stream`).
    pub async fn follow(&self, tenant: Uuid, id: Uuid) -> Result<reqwest::Response, PeerError> {
        let url = self.peer.url(&format!("/executions/{id}/stream"));
        self.peer.call(tenant, true, |http| http.get(&url)).await
    }

    /// Cancels an execution (an already finished one is left as it is).
    pub async fn cancel(&self, tenant: Uuid, id: Uuid) -> Result<(), PeerError> {
        let url = self.peer.url(&format!("/executions/{id}/cancel"));
        match self
            .peer
            .call(tenant, true, |http| {
                http.post(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(_) | Err(PeerError::Rejected(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
