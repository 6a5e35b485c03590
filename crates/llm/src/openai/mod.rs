//! OpenAI Chat Completions (`POST {base_url}/chat/completions`), also spoken by DeepSeek,
//! OpenRouter, vLLM, LiteLLM, LM Studio and llama.cpp.
//!
//! Streaming uses Server-Sent Events with `stream_options.include_usage`, so the last chunk
//! before `data: [DONE]` carries the usage (with `choices: []`). Tool calls stream as
//! fragments keyed by `index`: the first carries the id and name, the rest pieces of the
//! arguments string, which is parsed as JSON only once complete.

use std::sync::Arc;

use reqwest::header::HeaderName;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::wire::{Wire, bearer, chat_body, f32_json, message_in, tokens, tool_call};
use crate::{ChatRequest, ChatResponse, LlmError, Message, Role, Usage};

mod stream;
pub(crate) use stream::{OpenAiDecoder, OpenAiStream};

/// The OpenAI-compatible protocol.
pub(crate) struct OpenAiWire;

impl Wire for OpenAiWire {
    type Decoder = OpenAiDecoder;

    fn path(&self) -> &'static str {
        "/chat/completions"
    }

    fn headers(&self, api_key: Option<&str>) -> Vec<(HeaderName, String)> {
        bearer(api_key)
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = chat_body(request, stream, message);
        if let Some(temperature) = request.temperature {
            body["temperature"] = f32_json(temperature);
        }
        if let Some(max_tokens) = request.max_tokens {
            body["max_tokens"] = max_tokens.into();
        }
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        body
    }

    fn parse(&self, provider: &str, body: &[u8]) -> Result<ChatResponse, LlmError> {
        let completion: Completion = serde_json::from_slice(body)
            .map_err(|e| LlmError::malformed(provider, format!("invalid JSON body: {e}")))?;
        if let Some(error) = completion.error {
            return Err(in_band_error(provider, &error));
        }
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::malformed(provider, "the response has no choices"))?;
        let message = choice.message.unwrap_or_default();
        let mut tool_calls = Vec::new();
        for (n, call) in message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let arguments = call.function.arguments.unwrap_or_default();
            tool_calls.push(tool_call(
                provider,
                n,
                call.id,
                call.function.name,
                arguments,
            )?);
        }
        Ok(ChatResponse {
            content: text_of(message.content),
            tool_calls,
            usage: completion.usage.map(WireUsage::into_usage),
            finish_reason: choice.finish_reason,
            attempts: 0,
        })
    }

    fn decoder(&self, provider: Arc<str>) -> OpenAiDecoder {
        OpenAiStream::decoder(provider)
    }
}

fn message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({ "role": "system", "content": message.content }),
        Role::User => json!({ "role": "user", "content": message.content }),
        Role::Assistant => {
            let mut value = json!({ "role": "assistant", "content": message.content });
            if !message.tool_calls.is_empty() {
                if message.content.is_empty() {
                    value["content"] = Value::Null; // what OpenAI itself returns
                }
                value["tool_calls"] = message
                    .tool_calls
                    .iter()
                    .map(|call| {
                        json!({
                            "id": call.id,
                            "type": "function",
                            "function": { "name": call.name, "arguments": call.arguments.to_string() },
                        })
                    })
                    .collect();
            }
            value
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.as_deref().unwrap_or_default(),
            "content": message.content,
        }),
    }
}

/// Message content: a string, null, or (some servers) an array of `{type:"text",text}` parts.
fn text_of(content: Option<Value>) -> String {
    match content {
        Some(Value::String(text)) => text,
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// An `{"error": ...}` object inside a 2xx body (OpenRouter and proxies do this mid-stream).
pub(super) fn in_band_error(provider: &str, error: &Value) -> LlmError {
    let wrapped = json!({ "error": error });
    let message = message_in(&wrapped).unwrap_or("unknown error");
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..=599).contains(code))
        .unwrap_or(500);
    if status == 429 {
        return LlmError::RateLimited {
            provider: provider.to_owned(),
            retry_after_secs: None,
        };
    }
    LlmError::upstream(provider, status, message)
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChoiceMessage {
    content: Option<Value>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    arguments: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl WireUsage {
    pub(super) fn into_usage(self) -> Usage {
        Usage {
            prompt_tokens: tokens(self.prompt_tokens),
            completion_tokens: tokens(self.completion_tokens),
        }
    }
}
