//! The built-in `echo` provider: answers `"Echo: <last user message>"` without any network.
//!
//! For development and load tests, so it has to be cheap: no allocation beyond the reply and
//! its deltas. It is only used when an agent names it; it is never a fallback for a failing
//! provider.

use crate::{ChatRequest, ChatResponse, DeltaSender, Role, Usage};

/// Answers `request`; streams the reply in word-sized deltas when `stream` is set.
pub(crate) async fn chat(request: &ChatRequest, stream: Option<DeltaSender>) -> ChatResponse {
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.as_str());
    let reply = format!("Echo: {last_user}");
    if let Some(tx) = stream {
        // Each piece keeps its trailing whitespace, so the deltas concatenate to the reply.
        for piece in reply.split_inclusive(char::is_whitespace) {
            if tx.send(piece.to_owned()).await.is_err() {
                break; // nobody is listening any more; the aggregate is still returned
            }
        }
    }
    let prompt_words: usize = request
        .messages
        .iter()
        .map(|m| m.content.split_whitespace().count())
        .sum();
    let completion_words = reply.split_whitespace().count();
    ChatResponse {
        content: reply,
        tool_calls: Vec::new(),
        usage: Some(Usage {
            prompt_tokens: u32::try_from(prompt_words).unwrap_or(u32::MAX),
            completion_tokens: u32::try_from(completion_words).unwrap_or(u32::MAX),
        }),
        finish_reason: Some("stop".to_owned()),
        attempts: 1,
    }
}
