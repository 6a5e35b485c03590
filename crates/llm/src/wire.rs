//! What a wire protocol plugs into the shared HTTP transport ([`Wire`], [`StreamDecoder`]),
//! and small helpers the protocols share.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderName};
use serde_json::{Value, json};

use crate::{ChatRequest, ChatResponse, LlmError, Message, ToolCall, ToolSpec};

/// One provider protocol: how to encode a request and decode a response.
pub(crate) trait Wire: Send + Sync + 'static {
    /// Decoder of the streamed response.
    type Decoder: StreamDecoder;

    /// Path appended to the base URL (e.g. `/chat/completions`).
    fn path(&self) -> &'static str;

    /// Protocol headers carrying the API key (and e.g. a version), when there is one.
    fn headers(&self, api_key: Option<&str>) -> Vec<(HeaderName, String)>;

    /// The JSON request body.
    fn body(&self, request: &ChatRequest, stream: bool) -> Value;

    /// Decodes a complete (non-streamed) 2xx response body.
    fn parse(&self, provider: &str, body: &[u8]) -> Result<ChatResponse, LlmError>;

    /// A fresh decoder for one streamed attempt.
    fn decoder(&self, provider: Arc<str>) -> Self::Decoder;
}

/// Incremental decoder of a streamed 2xx response body.
pub(crate) trait StreamDecoder: Send {
    /// Consumes one body chunk, appending the text deltas it completed to `deltas`.
    /// Returns `true` once the protocol's end-of-stream marker was seen.
    fn feed(&mut self, chunk: &[u8], deltas: &mut Vec<String>) -> Result<bool, LlmError>;

    /// The aggregate response, after the end marker or at the end of the body (which is an
    /// error if the stream looks truncated).
    fn finish(self) -> Result<ChatResponse, LlmError>;
}

/// Parses a tool call's arguments string (OpenAI, Anthropic `partial_json`) to JSON. An empty
/// string means no arguments (`{}`), which some servers send for argument-less tools.
pub(crate) fn parse_arguments(provider: &str, tool: &str, raw: &str) -> Result<Value, LlmError> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(raw).map_err(|error| {
        LlmError::malformed(
            provider,
            format!("arguments of tool call '{tool}' are not valid JSON: {error}"),
        )
    })
}

/// A complete tool call of the protocols with OpenAI-style function tools: `id` (`call_<n>`
/// when missing or empty) and `arguments` as a JSON string to parse, or the object itself
/// (Ollama, and some OpenAI-compatible servers), or nothing (`{}`).
pub(crate) fn tool_call(
    provider: &str,
    n: usize,
    id: Option<String>,
    name: String,
    arguments: Value,
) -> Result<ToolCall, LlmError> {
    let arguments = match arguments {
        Value::Null => json!({}),
        Value::String(raw) => parse_arguments(provider, &name, &raw)?,
        object => object,
    };
    Ok(ToolCall {
        id: id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("call_{n}")),
        name,
        arguments,
    })
}

/// `Authorization: Bearer <key>` when there is a key, else no header.
pub(crate) fn bearer(api_key: Option<&str>) -> Vec<(HeaderName, String)> {
    api_key
        .map(|key| vec![(AUTHORIZATION, format!("Bearer {key}"))])
        .unwrap_or_default()
}

/// What the bodies of the protocols with OpenAI-style function tools (OpenAI, Ollama) share:
/// the model, the messages (each as `message` writes it), `stream` and the tools, if any.
pub(crate) fn chat_body(
    request: &ChatRequest,
    stream: bool,
    message: fn(&Message) -> Value,
) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({ "model": request.model, "messages": messages, "stream": stream });
    if !request.tools.is_empty() {
        body["tools"] = function_tools(&request.tools);
    }
    body
}

/// Tools in the OpenAI function schema (`{type:"function",function:{name,description,
/// parameters}}`), which Ollama accepts as well.
pub(crate) fn function_tools(tools: &[ToolSpec]) -> Value {
    tools
        .iter()
        .map(|tool| {
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }
            })
        })
        .collect()
}

/// `f32` as a JSON number with its shortest decimal form: `0.7f32` must be sent as `0.7`,
/// not as the `f64` widening `0.699999988079071`.
pub(crate) fn f32_json(value: f32) -> Value {
    value
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A token count from the wire, saturated into `u32`.
pub(crate) fn tokens(count: Option<u64>) -> u32 {
    count.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The error message inside an error body, in the shapes the supported providers use:
/// `{"error":{"message":..}}` (OpenAI, Anthropic), `{"error":".."}` (Ollama) or
/// `{"message":..}`; otherwise the body itself (trimmed), or `fallback` if it is empty.
pub(crate) fn error_message(body: &[u8], fallback: &str) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(message) = message_in(&value).filter(|m| !m.trim().is_empty())
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        fallback.to_owned()
    } else {
        text.to_owned()
    }
}

/// The message of a parsed error object (see [`error_message`] for the shapes).
pub(crate) fn message_in(value: &Value) -> Option<&str> {
    match value.get("error") {
        Some(Value::String(message)) => Some(message),
        Some(error) => error.get("message").and_then(Value::as_str),
        None => value.get("message").and_then(Value::as_str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_in_every_shape() {
        let openai = br#"{"error":{"message":"Invalid model","type":"invalid_request_error"}}"#;
        assert_eq!(error_message(openai, "x"), "Invalid model");
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_message(anthropic, "x"), "Overloaded");
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#, "x"),
            "model not found"
        );
        assert_eq!(error_message(br#"{"message":"nope"}"#, "x"), "nope");
        assert_eq!(
            error_message(b"  <html>bad gateway</html> ", "x"),
            "<html>bad gateway</html>"
        );
        assert_eq!(
            error_message(b"", "Service Unavailable"),
            "Service Unavailable"
        );
    }

    #[test]
    fn floats_keep_their_short_form() {
        assert_eq!(f32_json(0.7).to_string(), "0.7");
        assert_eq!(f32_json(1.0).to_string(), "1.0");
        assert_eq!(f32_json(f32::NAN), Value::Null);
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse_arguments("p", "t", " ").unwrap(),
            serde_json::json!({})
        );
        assert_eq!(
            parse_arguments("p", "t", r#"{"a":1}"#).unwrap(),
            serde_json::json!({"a":1})
        );
        assert_eq!(
            parse_arguments("p", "t", "{").unwrap_err().class(),
            "malformed"
        );
    }
}
