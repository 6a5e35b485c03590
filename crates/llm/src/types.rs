//! The provider-neutral chat vocabulary: messages, tool calls, requests and responses.
//!
//! Every provider translates these to and from its own wire format, so the agents service
//! stores and replays conversations without knowing which provider produced them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The end user (or the agent runtime speaking for them).
    User,
    /// The model.
    Assistant,
    /// The result of a tool call requested by the model.
    Tool,
}

/// A tool invocation requested by the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (generated as `call_<n>` when the provider has none);
    /// the matching tool result must carry it back.
    pub id: String,
    /// Name of the tool, as declared in [`ToolSpec::name`].
    pub name: String,
    /// Arguments as parsed JSON (normally an object).
    pub arguments: Value,
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Tool name (what [`ToolCall::name`] will contain).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: Value,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author of the message.
    pub role: Role,
    /// Text content (may be empty for an assistant message that only calls tools).
    #[serde(default)]
    pub content: String,
    /// Tool calls made by the assistant in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For tool results: the id of the call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For tool results: the name of the tool that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    fn plain(role: Role, content: String) -> Self {
        Self {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A system (instruction) message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content.into())
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content.into())
    }

    /// An assistant message, possibly with tool calls (as returned in a [`ChatResponse`]).
    pub fn assistant(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::plain(Role::Assistant, content.into())
        }
    }

    /// The result of running `call`, to send back to the model.
    pub fn tool_result(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            ..Self::plain(Role::Tool, content.into())
        }
    }
}

/// A chat completion request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name as the provider knows it (e.g. `gpt-4o-mini`, `llama3.2`).
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call (none: plain chat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature; `None` leaves the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Maximum tokens to generate; `None` leaves the provider's default (Anthropic, which
    /// requires it, gets 4096).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// A request for `model` with `messages`, no tools and provider-default sampling.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }
}

/// Token usage reported by the provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of input (for Anthropic including cache reads and writes, matching OpenAI's
    /// `prompt_tokens`, which includes cached tokens).
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// The aggregate result of a chat call (also when it was streamed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Generated text (all streamed deltas concatenated).
    pub content: String,
    /// Tools the model wants called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Token usage; `None` when the upstream did not report it.
    pub usage: Option<Usage>,
    /// Why generation stopped, in the provider's own words (`stop`, `tool_calls`,
    /// `end_turn`, `tool_use`, `length`, ...).
    pub finish_reason: Option<String>,
    /// HTTP attempts made, including the successful one (1 without retries).
    pub attempts: u32,
}

/// Receives text deltas while a response streams. Bounded, so a slow consumer slows the read
/// of the upstream response (backpressure) instead of buffering without limit. If the receiver
/// is dropped, the call still completes and returns the aggregate.
pub type DeltaSender = tokio::sync::mpsc::Sender<String>;
