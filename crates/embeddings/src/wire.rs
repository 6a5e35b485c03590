//! What differs between the two protocols: the request body is the same
//! (`{"model", "input": [..]}`), the responses are not. OpenAI-compatible servers answer
//! `{"data": [{"index", "embedding"}]}` — in any order, so vectors are placed by `index` —
//! and Ollama answers `{"embeddings": [[..]]}` in input order.

use serde::{Deserialize, Serialize};

use crate::EmbeddingKind;

#[derive(Serialize)]
pub(crate) struct EmbedRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) input: &'a [String],
}

#[derive(Deserialize)]
struct OpenAiResponse {
    data: Vec<OpenAiItem>,
}

#[derive(Deserialize)]
struct OpenAiItem {
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct OllamaResponse {
    embeddings: Vec<Vec<f32>>,
}

/// What is wrong with a 2xx body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("expected {expected}: {source}")]
    Shape {
        expected: &'static str,
        source: serde_json::Error,
    },
    #[error("index {0} appears twice")]
    Twice(usize),
    #[error("index {index} is out of range for {count} items")]
    OutOfRange { index: usize, count: usize },
}

/// The vectors of a 2xx body, in input order. The count is checked by the caller (a wrong
/// count is its own error).
pub(crate) fn parse(kind: EmbeddingKind, body: &[u8]) -> Result<Vec<Vec<f32>>, BodyError> {
    match kind {
        EmbeddingKind::Ollama => serde_json::from_slice::<OllamaResponse>(body)
            .map(|response| response.embeddings)
            .map_err(|source| BodyError::Shape {
                expected: r#"{"embeddings": [[numbers]]}"#,
                source,
            }),
        EmbeddingKind::OpenAi => {
            let response: OpenAiResponse =
                serde_json::from_slice(body).map_err(|source| BodyError::Shape {
                    expected: r#"{"data": [{"embedding": [numbers]}]}"#,
                    source,
                })?;
            place_by_index(response.data)
        }
    }
}

/// Puts each item at its `index` (position when a server omits it); every position must be
/// filled exactly once.
fn place_by_index(items: Vec<OpenAiItem>) -> Result<Vec<Vec<f32>>, BodyError> {
    let count = items.len();
    let mut placed: Vec<Option<Vec<f32>>> = vec![None; count];
    for (position, item) in items.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        match placed.get_mut(index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            Some(Some(_)) => return Err(BodyError::Twice(index)),
            None => return Err(BodyError::OutOfRange { index, count }),
        }
    }
    Ok(placed.into_iter().flatten().collect())
}

/// The provider's message in an error body (`{"error": {"message"}}`, `{"error": "..."}`,
/// `{"detail": ...}`), else the start of the body; at most 300 characters.
pub(crate) fn error_message(body: &[u8], fallback: &str) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            let found = value
                .pointer("/error/message")
                .or_else(|| value.get("error"))
                .or_else(|| value.get("detail"))?;
            Some(match found.as_str() {
                Some(text) => text.to_owned(),
                None => found.to_string(),
            })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let text = if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    };
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_items_are_placed_by_index() {
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[2.0]},
            {"object":"embedding","index":0,"embedding":[1.0]}],"model":"m"}"#;
        assert_eq!(parse(EmbeddingKind::OpenAi, body).unwrap(), [[1.0], [2.0]]);
        let no_index = br#"{"data":[{"embedding":[1.0]},{"embedding":[2.0]}]}"#;
        assert_eq!(
            parse(EmbeddingKind::OpenAi, no_index).unwrap(),
            [[1.0], [2.0]]
        );
    }

    #[test]
    fn broken_openai_indices_are_malformed() {
        let twice = br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[2.0]}]}"#;
        assert_eq!(
            parse(EmbeddingKind::OpenAi, twice).unwrap_err().to_string(),
            "index 0 appears twice"
        );
        let beyond = br#"{"data":[{"index":5,"embedding":[1.0]}]}"#;
        assert!(
            parse(EmbeddingKind::OpenAi, beyond)
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(
            parse(EmbeddingKind::OpenAi, b"{}")
                .unwrap_err()
                .to_string()
                .contains("expected")
        );
    }

    #[test]
    fn ollama_embeddings_are_in_input_order() {
        let body = br#"{"model":"m","embeddings":[[1.0,0.5],[0.0,1.0]]}"#;
        assert_eq!(
            parse(EmbeddingKind::Ollama, body).unwrap(),
            [[1.0, 0.5], [0.0, 1.0]]
        );
        assert!(parse(EmbeddingKind::Ollama, br#"{"embedding":[1]}"#).is_err());
    }

    #[test]
    fn error_messages_come_from_the_body_when_it_has_one() {
        let openai = br#"{"error":{"message":"model not found","type":"invalid_request_error"}}"#;
        assert_eq!(error_message(openai, "Bad Request"), "model not found");
        assert_eq!(
            error_message(br#"{"error":"no such model"}"#, "x"),
            "no such model"
        );
        assert_eq!(error_message(b"  upstream down ", "x"), "upstream down");
        assert_eq!(
            error_message(b"", "Service Unavailable"),
            "Service Unavailable"
        );
        assert_eq!(
            error_message("é".repeat(400).as_bytes(), "x")
                .chars()
                .count(),
            301
        );
    }
}
