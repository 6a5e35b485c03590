//! LLM provider clients for the agents service, behind one [`Provider`] trait.
//!
//! - **Protocols**: OpenAI-compatible chat completions (OpenAI, DeepSeek, OpenRouter, vLLM,
//!   LiteLLM, ...), Ollama's native `/api/chat`, Anthropic Messages, and the offline `echo`
//!   provider for development and load tests.
//! - **Streaming**: pass a [`DeltaSender`] to receive text deltas as they arrive; the call
//!   still returns the aggregate [`ChatResponse`] (content, tool calls, usage).
//! - **Tools**: [`ToolSpec`]s go out in each protocol's schema and [`ToolCall`]s come back
//!   parsed, also when streamed in fragments.
//! - **Resilience**: per-provider connect/read timeouts, retries with full-jitter
//!   exponential backoff on 429/5xx/529 and connection failures (honouring `Retry-After`,
//!   never after text was streamed), and a concurrency limit per provider
//!   ([`ProviderConfig`]).
//! - **Errors** ([`LlmError`]) are worded for API users: they name the provider, never
//!   contain secrets, and have a stable [`LlmError::class`].
//!
//! Metrics (through the `metrics` facade): counter `llm_requests_total{provider, outcome}`
//! (`outcome` = `ok` or the error class), histograms `llm_request_duration_seconds{provider}`
//! (from getting a slot to the end, retries included) and
//! `llm_queue_wait_seconds{provider}` (waiting for a slot).
//!
//! ```no_run
//! # async fn run() -> Result<(), temponest_llm::LlmError> {
//! use temponest_llm::{ChatRequest, Message, Providers};
//!
//! let providers = Providers::from_config(&Providers::defaults(), reqwest::Client::new())?;
//! let request = ChatRequest::new("echo-1", vec![Message::user("hello")]);
//! let response = providers.get("echo")?.chat(&request, None).await?;
//! assert_eq!(response.content, "Echo: hello");
//! # Ok(()) }
//! ```

mod anthropic;
mod config;
mod echo;
mod error;
mod framed;
mod framing;
mod http;
mod ollama;
mod openai;
mod provider;
mod registry;
mod retry;
mod types;
mod wire;

pub use config::{ProviderConfig, ProviderKind};
pub use error::LlmError;
pub use provider::{Provider, ProviderLoad};
pub use registry::Providers;
pub use types::{ChatRequest, ChatResponse, DeltaSender, Message, Role, ToolCall, ToolSpec, Usage};
