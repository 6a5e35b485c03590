//! Decoding of the OpenAI SSE stream: text deltas, tool-call fragments keyed by `index`,
//! the usage chunk and `data: [DONE]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{WireUsage, in_band_error};
use crate::framed::{Framed, Frames};
use crate::framing::SseParser;
use crate::wire::parse_arguments;
use crate::{ChatResponse, LlmError, ToolCall, Usage};

#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    tool_calls: Option<Vec<DeltaCall>>,
}

#[derive(Deserialize)]
struct DeltaCall {
    index: Option<u64>,
    id: Option<String>,
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Decoder of an OpenAI SSE stream.
pub(crate) type OpenAiDecoder = Framed<OpenAiStream>;

/// What an OpenAI stream has said so far.
pub(crate) struct OpenAiStream {
    provider: Arc<str>,
    content: String,
    /// Tool calls being assembled, by their `index`.
    calls: BTreeMap<u64, PartialCall>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
}

impl OpenAiStream {
    pub(crate) fn decoder(provider: Arc<str>) -> OpenAiDecoder {
        let stream = Self {
            provider: provider.clone(),
            content: String::new(),
            calls: BTreeMap::new(),
            usage: None,
            finish_reason: None,
            done: false,
        };
        Framed::new(provider, stream)
    }

    fn event(&mut self, data: &str, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: StreamChunk = serde_json::from_str(data).map_err(|e| {
            LlmError::malformed(&self.provider, format!("invalid JSON in stream: {e}"))
        })?;
        if let Some(error) = chunk.error {
            return Err(in_band_error(&self.provider, &error));
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into_usage());
        }
        // Only the first choice is requested (n = 1).
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
            let Some(delta) = choice.delta else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.content.push_str(&text);
                deltas.push(text);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                self.tool_delta(call);
            }
        }
        Ok(())
    }

    fn tool_delta(&mut self, call: DeltaCall) {
        // Servers that omit `index` send a new id to start a new call.
        let index = match (call.index, self.calls.last_key_value()) {
            (Some(index), _) => index,
            (None, None) => 0,
            (None, Some((&last, partial))) => match &call.id {
                Some(id) if !id.is_empty() && *id != partial.id => last + 1,
                _ => last,
            },
        };
        let entry = self.calls.entry(index).or_default();
        if let Some(id) = call.id.filter(|id| !id.is_empty())
            && entry.id.is_empty()
        {
            entry.id = id;
        }
        if let Some(function) = call.function {
            // Some servers repeat the name in every fragment: keep the first.
            if let Some(name) = function.name.filter(|n| !n.is_empty())
                && entry.name.is_empty()
            {
                entry.name = name;
            }
            if let Some(arguments) = function.arguments {
                entry.arguments.push_str(&arguments);
            }
        }
    }
}

impl Frames for OpenAiStream {
    type Framing = SseParser;

    const CUT_SHORT: &'static str = "the stream ended before [DONE]";

    fn frame(&mut self, data: &String, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        self.event(data, deltas)
    }

    fn done(&self) -> bool {
        self.done
    }

    /// Servers that never send [DONE] still send a finish_reason; without either the stream
    /// was cut short.
    fn complete_without_marker(&self) -> bool {
        self.finish_reason.is_some()
    }

    fn response(self) -> Result<ChatResponse, LlmError> {
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (n, call) in self.calls.into_values().enumerate() {
            if call.name.is_empty() {
                return Err(LlmError::malformed(
                    &self.provider,
                    "a streamed tool call has no name",
                ));
            }
            tool_calls.push(ToolCall {
                arguments: parse_arguments(&self.provider, &call.name, &call.arguments)?,
                id: if call.id.is_empty() {
                    format!("call_{n}")
                } else {
                    call.id
                },
                name: call.name,
            });
        }
        Ok(ChatResponse {
            content: self.content,
            tool_calls,
            usage: self.usage,
            finish_reason: self.finish_reason,
            attempts: 0,
        })
    }
}
