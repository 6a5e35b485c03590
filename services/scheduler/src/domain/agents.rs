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
use temponest_auth_client::{ServiceCallError, ServiceTokenError, ServiceTokens};
use uuid::Uuid;

use temponest_db::named;

/// Waits between repeats of a call that failed before anything ran (connect errors, 502–504).
const CALL_BACKOFF: temponest_retry::Backoff = temponest_retry::Backoff::new(
    Duration::from_millis(200),
    Duration::from_secs(2),
    temponest_retry::Jitter::Equal,
);

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The agent (or execution) does not exist for the tenant.
    #[error("{0}")]
    NotFound(String),
    /// Refused for good (4xx other than 404): retrying the same call cannot help.
    #[error("{0}")]
    Rejected(String),
    /// Unreachable, timed out or answered 5xx: a later attempt may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// An agent execution's status, as the agents API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentExecutionStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

/// The agents API's finer result of an execution. A value this version does not know makes
/// the answer unreadable (an `Unavailable` call error, retried), never a guessed outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentOutcome {
    Completed,
    Failed,
    Cancelled,
    TimedOut,
    MaxIterations,
    Abandoned,
}

named!(AgentOutcome, "agent outcome",
    Completed => "completed", Failed => "failed", Cancelled => "cancelled",
    TimedOut => "timed_out", MaxIterations => "max_iterations", Abandoned => "abandoned");

/// An agent execution as the scheduler needs it (a subset of the agents API's Execution).
#[derive(Debug, Clone, Deserialize)]
pub struct AgentExecution {
    pub id: Uuid,
    pub status: AgentExecutionStatus,
    pub outcome: Option<AgentOutcome>,
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
    base: String,
    http: reqwest::Client,
    tokens: ServiceTokens,
    request_timeout: Duration,
}

impl AgentsClient {
    pub fn new(
        base: &str,
        tokens: ServiceTokens,
        request_timeout: Duration,
    ) -> Result<Self, AgentsClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            tokens,
            request_timeout,
        })
    }

    /// Whether the agent exists (and is live) in the tenant.
    pub async fn agent_exists(&self, tenant: Uuid, agent_id: Uuid) -> Result<bool, CallError> {
        let url = format!("{}/agents/{agent_id}", self.base);
        match self
            .send(tenant, true, |http| {
                http.get(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(CallError::NotFound(_)) => Ok(false),
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
    ) -> Result<(Uuid, reqwest::Response), CallError> {
        let url = format!("{}/agents/{agent_id}/execute", self.base);
        let body = serde_json::json!({
            "user_message": task.get("user_message").cloned().unwrap_or_default(),
            "context": task.get("context").cloned().unwrap_or(serde_json::Value::Null),
            "stream": true,
        });
        // Not repeated once sent (it would start a second execution): only connection
        // failures, where nothing reached the agents service, are retried.
        let response = self
            .send(tenant, false, |http| http.post(&url).json(&body))
            .await
            .map_err(|err| match err {
                CallError::NotFound(_) => {
                    CallError::NotFound(format!("agent {agent_id} not found (deleted?)"))
                }
                other => other,
            })?;
        let id = response
            .headers()
            .get("x-execution-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                CallError::Unavailable("the agents service sent no X-Execution-Id".to_owned())
            })?;
        Ok((id, response))
    }

    /// An execution of the tenant (None when the agents service does not know it).
    pub async fn execution(
        &self,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<Option<AgentExecution>, CallError> {
        let url = format!("{}/executions/{id}", self.base);
        match self
            .send(tenant, true, |http| {
                http.get(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(response) => response
                .json::<AgentExecution>()
                .await
                .map(Some)
                .map_err(|e| CallError::Unavailable(format!("unreadable execution: {e}"))),
            Err(CallError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Follows an execution started elsewhere until it ends (the stream of
    /// `GET /executions/{id}/stream`).
    pub async fn follow(&self, tenant: Uuid, id: Uuid) -> Result<reqwest::Response, CallError> {
        let url = format!("{}/executions/{id}/stream", self.base);
        self.send(tenant, true, |http| http.get(&url)).await
    }

    /// Cancels an execution (an already finished one is left as it is).
    pub async fn cancel(&self, tenant: Uuid, id: Uuid) -> Result<(), CallError> {
        let url = format!("{}/executions/{id}/cancel", self.base);
        match self
            .send(tenant, true, |http| {
                http.post(&url).timeout(self.request_timeout)
            })
            .await
        {
            Ok(_) | Err(CallError::Rejected(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Sends as the tenant's service identity ([`ServiceTokens::send`]: a 401 refreshes the
    /// token once); connection failures (and, when `repeatable`, 502/503/504 and timeouts)
    /// are retried twice, and a 429 after the wait it asks for.
    async fn send(
        &self,
        tenant: Uuid,
        repeatable: bool,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let mut attempt = 0u32;
        loop {
            let retryable = match self.tokens.send(tenant, || build(&self.http)).await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return Ok(response);
                    }
                    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                        // Refused before anything ran: safe to repeat after the wait asked for.
                        let wait = temponest_retry::retry_after(
                            response.headers(),
                            std::time::SystemTime::now(),
                        )
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(5));
                        attempt += 1;
                        if attempt > 2 {
                            return Err(CallError::Unavailable(detail_of(response).await));
                        }
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let detail = detail_of(response).await;
                    match status.as_u16() {
                        404 => return Err(CallError::NotFound(detail)),
                        502..=504 if repeatable => CallError::Unavailable(detail),
                        500..=599 => return Err(CallError::Unavailable(detail)),
                        _ => return Err(CallError::Rejected(detail)),
                    }
                }
                Err(ServiceCallError::Token(ServiceTokenError::Rejected(detail))) => {
                    return Err(CallError::Rejected(format!(
                        "the auth service refused the scheduler's service identity: {detail}"
                    )));
                }
                Err(ServiceCallError::Token(ServiceTokenError::Unavailable(detail))) => {
                    return Err(CallError::Unavailable(format!(
                        "auth service unavailable: {detail}"
                    )));
                }
                Err(ServiceCallError::Transport(err))
                    if err.is_connect() || (repeatable && err.is_timeout()) =>
                {
                    CallError::Unavailable(format!("agents service unreachable: {err}"))
                }
                Err(ServiceCallError::Transport(err)) => {
                    return Err(CallError::Unavailable(format!(
                        "agents service call failed: {err}"
                    )));
                }
            };
            attempt += 1;
            if attempt > 2 {
                return Err(retryable);
            }
            tokio::time::sleep(CALL_BACKOFF.delay(attempt - 1)).await;
        }
    }
}

/// "agents service answered 422 ...: <detail>" from an error response of the agents service.
async fn detail_of(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    temponest_web::peer::describe_error_answer("agents service", status, &body)
}
