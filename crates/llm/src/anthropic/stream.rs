//! Decoding of the Anthropic SSE stream: `message_start`, content blocks (text and
//! `tool_use` with `input_json_delta` fragments), `message_delta`, `message_stop`, `error`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{Block, ErrorBody, WireUsage, stream_error};
use crate::framed::{Framed, Frames};
use crate::framing::SseParser;
use crate::wire::{parse_arguments, tokens};
use crate::{ChatResponse, LlmError, ToolCall, Usage};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: ErrorBody,
    },
    /// `ping`, `content_block_stop` and future event types.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

/// A content block being streamed.
enum PartialBlock {
    Text,
    Tool {
        id: String,
        name: String,
        /// `input` of `content_block_start`, used when no `input_json_delta` follows.
        initial: Value,
        json: String,
    },
    Other,
}

/// Decoder of an Anthropic SSE stream.
pub(crate) type AnthropicDecoder = Framed<AnthropicStream>;

/// What an Anthropic stream has said so far.
pub(crate) struct AnthropicStream {
    provider: Arc<str>,
    response: ChatResponse,
    blocks: BTreeMap<usize, PartialBlock>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    done: bool,
}

impl AnthropicStream {
    pub(crate) fn decoder(provider: Arc<str>) -> AnthropicDecoder {
        let stream = Self {
            provider: provider.clone(),
            response: ChatResponse::default(),
            blocks: BTreeMap::new(),
            input_tokens: None,
            output_tokens: None,
            done: false,
        };
        Framed::new(provider, stream)
    }

    fn event(&mut self, data: &str, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        let event: Event = serde_json::from_str(data).map_err(|e| {
            LlmError::malformed(&self.provider, format!("invalid event in stream: {e}"))
        })?;
        match event {
            Event::MessageStart { message } => {
                self.input_tokens = message.usage.prompt();
                self.output_tokens = message.usage.output_tokens;
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                let block = match content_block {
                    Block::Text { text } => {
                        self.text(text, deltas);
                        PartialBlock::Text
                    }
                    Block::ToolUse { id, name, input } => PartialBlock::Tool {
                        id,
                        name,
                        initial: input,
                        json: String::new(),
                    },
                    Block::Other => PartialBlock::Other,
                };
                self.blocks.insert(index, block);
            }
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => self.text(text, deltas),
                BlockDelta::InputJsonDelta { partial_json } => {
                    if let Some(PartialBlock::Tool { json, .. }) = self.blocks.get_mut(&index) {
                        json.push_str(&partial_json);
                    }
                }
                BlockDelta::Other => {} // thinking and signature deltas
            },
            Event::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.response.finish_reason = delta.stop_reason;
                }
                if let Some(usage) = usage {
                    // Cumulative counts; newer API versions repeat the input side here.
                    self.output_tokens = usage.output_tokens.or(self.output_tokens);
                    self.input_tokens = usage.prompt().or(self.input_tokens);
                }
            }
            Event::MessageStop => self.done = true,
            Event::Error { error } => return Err(stream_error(&self.provider, &error)),
            Event::Other => {}
        }
        Ok(())
    }

    fn text(&mut self, text: String, deltas: &mut Vec<String>) {
        if !text.is_empty() {
            self.response.content.push_str(&text);
            deltas.push(text);
        }
    }
}

impl Frames for AnthropicStream {
    type Framing = SseParser;

    const CUT_SHORT: &'static str = "the stream ended before message_stop";

    fn frame(&mut self, data: &String, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        self.event(data, deltas)
    }

    fn done(&self) -> bool {
        self.done
    }

    fn complete_without_marker(&self) -> bool {
        self.response.finish_reason.is_some()
    }

    fn response(mut self) -> Result<ChatResponse, LlmError> {
        for block in self.blocks.into_values() {
            if let PartialBlock::Tool {
                id,
                name,
                initial,
                json,
            } = block
            {
                let arguments = if json.trim().is_empty() {
                    initial
                } else {
                    parse_arguments(&self.provider, &name, &json)?
                };
                self.response.tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments,
                });
            }
        }
        if self.input_tokens.is_some() || self.output_tokens.is_some() {
            self.response.usage = Some(Usage {
                prompt_tokens: tokens(self.input_tokens),
                completion_tokens: tokens(self.output_tokens),
            });
        }
        Ok(self.response)
    }
}
