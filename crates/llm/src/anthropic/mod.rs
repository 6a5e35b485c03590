//! Anthropic Messages (`POST {base_url}/v1/messages`, `anthropic-version: 2023-06-01`).
//!
//! Differences from the chat-completions shape: system messages go to a top-level `system`,
//! `max_tokens` is required (4096 unless the request sets it), assistant tool calls are
//! `tool_use` content blocks and tool results are `tool_result` blocks of a user message
//! (consecutive results share one message). The stream is typed SSE events: content blocks
//! start, receive deltas (`text_delta`, `input_json_delta`) and stop; `message_delta` carries
//! the stop reason and output tokens; an `error` event can arrive after the 200.

use std::sync::Arc;

use reqwest::header::HeaderName;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::wire::{Wire, f32_json, tokens};
use crate::{ChatRequest, ChatResponse, LlmError, Role, ToolCall, Usage};

mod stream;
pub(crate) use stream::{AnthropicDecoder, AnthropicStream};

/// `max_tokens` when the request leaves it open (Anthropic requires one).
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Anthropic protocol.
pub(crate) struct AnthropicWire;

impl Wire for AnthropicWire {
    type Decoder = AnthropicDecoder;

    fn path(&self) -> &'static str {
        "/v1/messages"
    }

    fn headers(&self, api_key: Option<&str>) -> Vec<(HeaderName, String)> {
        let mut headers = vec![(
            HeaderName::from_static("anthropic-version"),
            "2023-06-01".to_owned(),
        )];
        if let Some(key) = api_key {
            headers.push((HeaderName::from_static("x-api-key"), key.to_owned()));
        }
        headers
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut body = json!({
            "model": request.model,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages(request),
            "stream": stream,
        });
        if !system.is_empty() {
            body["system"] = system.join("\n\n").into();
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    json!({
                        "name": tool.name,
                        "description": tool.description,
                        "input_schema": tool.parameters,
                    })
                })
                .collect();
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = f32_json(temperature);
        }
        body
    }

    fn parse(&self, provider: &str, body: &[u8]) -> Result<ChatResponse, LlmError> {
        let response: MessageResponse = serde_json::from_slice(body)
            .map_err(|e| LlmError::malformed(provider, format!("invalid JSON body: {e}")))?;
        if let Some(error) = response.error {
            return Err(stream_error(provider, &error));
        }
        let mut out = ChatResponse {
            finish_reason: response.stop_reason,
            usage: response.usage.map(WireUsage::into_usage),
            ..ChatResponse::default()
        };
        for block in response.content {
            match block {
                Block::Text { text } => out.content.push_str(&text),
                Block::ToolUse { id, name, input } => out.tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: input,
                }),
                Block::Other => {} // thinking and future block types
            }
        }
        Ok(out)
    }

    fn decoder(&self, provider: Arc<str>) -> AnthropicDecoder {
        AnthropicStream::decoder(provider)
    }
}

/// The conversation without system messages, tool results folded into user messages.
fn messages(request: &ChatRequest) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut last_was_tool_result = false;
    for message in &request.messages {
        let is_tool_result = message.role == Role::Tool;
        match message.role {
            Role::System => continue,
            Role::User => out.push(json!({ "role": "user", "content": message.content })),
            Role::Assistant if message.tool_calls.is_empty() => {
                out.push(json!({ "role": "assistant", "content": message.content }));
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !message.content.is_empty() {
                    blocks.push(json!({ "type": "text", "text": message.content }));
                }
                for call in &message.tool_calls {
                    // `input` must be an object; a call without arguments has `{}`.
                    let input = match &call.arguments {
                        Value::Null => json!({}),
                        other => other.clone(),
                    };
                    blocks.push(json!({
                        "type": "tool_use", "id": call.id, "name": call.name, "input": input,
                    }));
                }
                out.push(json!({ "role": "assistant", "content": blocks }));
            }
            Role::Tool => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.as_deref().unwrap_or_default(),
                    "content": message.content,
                });
                // All results of one assistant turn go back in a single user message.
                match out.last_mut().and_then(|m| m["content"].as_array_mut()) {
                    Some(blocks) if last_was_tool_result => blocks.push(block),
                    _ => out.push(json!({ "role": "user", "content": [block] })),
                }
            }
        }
        last_was_tool_result = is_tool_result;
    }
    out
}

/// An error object (`{"type": "...", "message": "..."}`), from an `error` event or body.
pub(super) fn stream_error(provider: &str, error: &ErrorBody) -> LlmError {
    // The status Anthropic uses for each error type over plain HTTP.
    let status = match error.kind.as_str() {
        "rate_limit_error" | "overloaded_error" => {
            return LlmError::RateLimited {
                provider: provider.to_owned(),
                retry_after_secs: None,
            };
        }
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "timeout_error" => 504,
        _ => 500, // api_error and anything new
    };
    LlmError::upstream(provider, status, &error.message)
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct MessageResponse {
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
pub(super) struct WireUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Prompt tokens include cache writes and reads, like OpenAI's `prompt_tokens`.
    pub(super) fn prompt(&self) -> Option<u64> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }

    fn into_usage(self) -> Usage {
        Usage {
            prompt_tokens: tokens(self.prompt()),
            completion_tokens: tokens(self.output_tokens),
        }
    }
}
