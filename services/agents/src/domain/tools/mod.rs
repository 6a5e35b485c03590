//! The tool registry: built-in tools an agent may be given (`tools` on the agent), their JSON
//! schemas for function calling, and dispatch of the model's calls. `knowledge_search` is
//! offered to every agent with knowledge collections (it needs the run's tenant and
//! collections, so the tool loop runs it: [`knowledge_search::run`]).

mod current_time;
mod http_request;
pub mod knowledge_search;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use temponest_llm::ToolSpec;

use crate::config::ToolsConfig;

pub use current_time::CurrentTime;
pub use http_request::HttpRequest;

/// Why a tool call failed. The model sees the message as the tool's result (the execution
/// goes on; models recover from tool errors), so messages never carry secrets such as a
/// URL's query.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("tool '{0}' is not available to this agent")]
    NotGiven(String),
    #[error("unknown tool '{0}'")]
    Unknown(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(serde_json::Error),
    #[error("method {0} is not supported")]
    UnsupportedMethod(String),
    #[error("request body exceeds {limit} bytes")]
    RequestBodyTooLarge { limit: usize },
    #[error("invalid request: {0}")]
    InvalidRequest(reqwest::Error),
    /// The SSRF guard refused the destination.
    #[error(transparent)]
    Refused(#[from] temponest_netguard::GuardError),
    #[error("the request timed out")]
    TimedOut,
    #[error("could not connect")]
    CouldNotConnect,
    /// Any other transport failure (its URL removed).
    #[error("request failed: {0}")]
    RequestFailed(reqwest::Error),
    #[error("invalid arguments: {0}")]
    InvalidQuery(String),
    #[error("the knowledge service is not configured")]
    KnowledgeNotConfigured,
    /// The knowledge service could not answer.
    #[error("knowledge search failed: {0}")]
    Knowledge(String),
}

/// A tool could not be set up from its configuration (start-up).
#[derive(Debug, thiserror::Error)]
pub enum ToolSetupError {
    /// `http_allowed_networks` is not a valid list of networks.
    #[error(transparent)]
    AllowedNetworks(#[from] temponest_netguard::GuardError),
    #[error("http_request client: {0}")]
    HttpClient(reqwest::Error),
}

/// One callable tool.
pub trait Tool: Send + Sync {
    fn spec(&self) -> ToolSpec;
    /// Runs the tool. `Err` is shown to the model as the tool's result.
    fn call<'a>(&'a self, arguments: &'a Value) -> BoxFuture<'a, Result<Value, ToolError>>;
}

/// The built-in tools by name; cheap to clone.
#[derive(Clone)]
pub struct Tools {
    by_name: Arc<BTreeMap<&'static str, Arc<dyn Tool>>>,
}

impl Tools {
    /// Every built-in tool, configured.
    pub fn builtin(config: &ToolsConfig) -> Result<Self, ToolSetupError> {
        let mut by_name: BTreeMap<&'static str, Arc<dyn Tool>> = BTreeMap::new();
        by_name.insert(current_time::NAME, Arc::new(CurrentTime));
        by_name.insert(http_request::NAME, Arc::new(HttpRequest::new(config)?));
        Ok(Self {
            by_name: Arc::new(by_name),
        })
    }

    /// Names of every tool, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }

    /// `name` as a metric label: a built-in tool's name, or `other` for whatever else a model
    /// asked for (labels must come from a bounded set, and models can invent names).
    pub fn metric_label(&self, name: &str) -> &'static str {
        if name == knowledge_search::NAME {
            return knowledge_search::NAME;
        }
        self.by_name
            .get_key_value(name)
            .map_or("other", |(known, _)| *known)
    }

    /// Function-calling specs of the named tools (unknown names are skipped: agents are
    /// validated when saved).
    pub fn specs(&self, names: &[String]) -> Vec<ToolSpec> {
        names
            .iter()
            .filter_map(|n| self.by_name.get(n.as_str()))
            .map(|t| t.spec())
            .collect()
    }

    /// Runs `name` if the agent was given it.
    pub async fn call(
        &self,
        allowed: &[String],
        name: &str,
        arguments: &Value,
    ) -> Result<Value, ToolError> {
        if !allowed.iter().any(|a| a == name) {
            return Err(ToolError::NotGiven(name.to_owned()));
        }
        match self.by_name.get(name) {
            Some(tool) => tool.call(arguments).await,
            None => Err(ToolError::Unknown(name.to_owned())),
        }
    }
}
