//! Ollama's native chat API (`POST {base_url}/api/chat`).
//!
//! A streamed response is newline-delimited JSON: one object per line, each with a message
//! fragment, the last with `done: true`, `done_reason` and the token counts
//! (`prompt_eval_count`, `eval_count`). A non-streamed response is that same object once.
//! Tool calls arrive whole (arguments as a JSON object) and without ids, so ids are
//! generated as `call_<n>`.

use std::sync::Arc;

use reqwest::header::HeaderName;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::framed::{Framed, Frames};
use crate::framing::NdjsonSplitter;
use crate::wire::{StreamDecoder, Wire, bearer, chat_body, f32_json, tokens, tool_call};
use crate::{ChatRequest, ChatResponse, LlmError, Message, Role, Usage};

/// The Ollama protocol.
pub(crate) struct OllamaWire;

impl Wire for OllamaWire {
    type Decoder = OllamaDecoder;

    fn path(&self) -> &'static str {
        "/api/chat"
    }

    fn headers(&self, api_key: Option<&str>) -> Vec<(HeaderName, String)> {
        // Plain Ollama needs no key; one behind an authenticating proxy (or Ollama's hosted
        // API) takes a bearer token.
        bearer(api_key)
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = chat_body(request, stream, message);
        let mut options = Map::new();
        if let Some(temperature) = request.temperature {
            options.insert("temperature".into(), f32_json(temperature));
        }
        if let Some(max_tokens) = request.max_tokens {
            options.insert("num_predict".into(), max_tokens.into());
        }
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
        body
    }

    fn parse(&self, provider: &str, body: &[u8]) -> Result<ChatResponse, LlmError> {
        let mut decoder = self.decoder(Arc::from(provider));
        decoder.protocol.object(body, &mut Vec::new())?;
        decoder.finish()
    }

    fn decoder(&self, provider: Arc<str>) -> OllamaDecoder {
        let stream = OllamaStream {
            provider: provider.clone(),
            response: ChatResponse::default(),
            done: false,
        };
        Framed::new(provider, stream)
    }
}

fn message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({ "role": "system", "content": message.content }),
        Role::User => json!({ "role": "user", "content": message.content }),
        Role::Assistant => {
            let mut value = json!({ "role": "assistant", "content": message.content });
            if !message.tool_calls.is_empty() {
                value["tool_calls"] = message
                    .tool_calls
                    .iter()
                    .map(|call| {
                        json!({ "function": { "name": call.name, "arguments": call.arguments } })
                    })
                    .collect();
            }
            value
        }
        Role::Tool => {
            let mut value = json!({ "role": "tool", "content": message.content });
            if let Some(name) = &message.name {
                value["tool_name"] = name.as_str().into();
            }
            value
        }
    }
}

#[derive(Deserialize)]
struct ChatChunk {
    message: Option<ChunkMessage>,
    #[serde(default)]
    done: bool,
    done_reason: Option<String>,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkMessage {
    content: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    /// Not sent by Ollama today; used if a future version does.
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

/// Decoder of an Ollama NDJSON stream (also used for the single non-streamed object).
pub(crate) type OllamaDecoder = Framed<OllamaStream>;

/// What an Ollama stream has said so far.
pub(crate) struct OllamaStream {
    provider: Arc<str>,
    response: ChatResponse,
    done: bool,
}

impl OllamaStream {
    fn object(&mut self, line: &[u8], deltas: &mut Vec<String>) -> Result<(), LlmError> {
        let chunk: ChatChunk = serde_json::from_slice(line)
            .map_err(|e| LlmError::malformed(&self.provider, format!("invalid JSON: {e}")))?;
        if let Some(error) = chunk.error {
            // An error after the 200 headers (e.g. the model runner crashed).
            let message = error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(LlmError::upstream(&self.provider, 500, &message));
        }
        if let Some(message) = chunk.message {
            if let Some(text) = message.content.filter(|t| !t.is_empty()) {
                self.response.content.push_str(&text);
                deltas.push(text);
            }
            for call in message.tool_calls.unwrap_or_default() {
                let n = self.response.tool_calls.len();
                let function = call.function;
                let call = tool_call(
                    &self.provider,
                    n,
                    call.id,
                    function.name,
                    function.arguments,
                )?;
                self.response.tool_calls.push(call);
            }
        }
        if chunk.done {
            self.done = true;
            self.response.finish_reason = chunk.done_reason;
            // Ollama leaves out prompt_eval_count when the whole prompt came from its cache.
            if chunk.prompt_eval_count.is_some() || chunk.eval_count.is_some() {
                self.response.usage = Some(Usage {
                    prompt_tokens: tokens(chunk.prompt_eval_count),
                    completion_tokens: tokens(chunk.eval_count),
                });
            }
        }
        Ok(())
    }
}

impl Frames for OllamaStream {
    type Framing = NdjsonSplitter;

    const CUT_SHORT: &'static str = "the stream ended before the final `done` object";

    fn frame(&mut self, line: &Vec<u8>, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        self.object(line, deltas)
    }

    fn done(&self) -> bool {
        self.done
    }

    fn response(self) -> Result<ChatResponse, LlmError> {
        Ok(self.response)
    }
}
