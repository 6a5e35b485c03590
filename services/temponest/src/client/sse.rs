//! Server-sent events: a decoder of the `text/event-stream` wire format (frames split across
//! reads at any byte), and the follower that prints an execution's text as it arrives,
//! resuming with `Last-Event-ID` when the connection drops before `[DONE]`.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::Value;
use temponest_retry::{Backoff, Jitter};

use super::api::Api;
use super::error::CliError;

/// One event: its `id:` and its `data:` lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub data: String,
}

/// Turns the bytes of an event stream into frames.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    id: Option<String>,
    data: Option<String>,
}

impl Decoder {
    /// Feeds bytes as they arrive; returns the frames they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    frames.push(Frame {
                        id: self.id.take(),
                        data,
                    });
                }
                self.id = None;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                "id" => self.id = Some(value.to_owned()),
                _ => {} // comments (keep-alives), event names, retry hints
            }
        }
        frames
    }
}

/// How a followed stream ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// The error frame's message, when the execution failed.
    pub error: Option<String>,
    /// The text received.
    pub text: String,
}

/// Reconnections tried before giving up on a dropped stream.
const RECONNECTS: u32 = 5;

/// Follows execution `id`'s stream to `[DONE]`: from `first` (the execute response) when
/// given, else from `GET /executions/{id}/stream`; after a dropped connection, resumes after
/// the last frame received. `print` gets each piece of text as it arrives.
pub async fn follow(
    api: &Api,
    id: &str,
    mut first: Option<Response>,
    mut print: impl FnMut(&str),
) -> Result<Ended, CliError> {
    let mut ended = Ended::default();
    let mut last_id: Option<String> = None;
    let mut drops = 0u32;
    let backoff = Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(5),
        Jitter::Equal,
    );
    loop {
        let response = match first.take() {
            Some(response) => response,
            None => {
                let headers: Vec<(&str, String)> = last_id
                    .iter()
                    .map(|id| ("last-event-id", id.clone()))
                    .collect();
                api.send(
                    Method::GET,
                    &format!("/executions/{id}/stream"),
                    &[],
                    None,
                    &headers,
                )
                .await?
            }
        };
        let why = match read(response, &mut last_id, &mut ended, &mut print).await {
            Ok(()) => return Ok(ended),
            Err(why) => why,
        };
        drops += 1;
        if drops > RECONNECTS {
            return Err(CliError::Transport(format!(
                "the stream of execution {id} kept dropping ({why}); it goes on on the server: \
                 `temponest executions follow {id}`"
            )));
        }
        eprintln!(
            "\n[stream dropped ({why}); resuming after frame {}]",
            last_id.as_deref().unwrap_or("0")
        );
        tokio::time::sleep(backoff.delay(drops - 1)).await;
    }
}

/// Why a stream's connection ended before `[DONE]`.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    #[error("the connection closed before the end")]
    Closed,
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// Reads one connection's frames until `[DONE]` (Ok) or the connection ends (Err: why).
async fn read(
    mut response: Response,
    last_id: &mut Option<String>,
    ended: &mut Ended,
    print: &mut impl FnMut(&str),
) -> Result<(), Dropped> {
    let mut decoder = Decoder::default();
    loop {
        let Some(chunk) = response.chunk().await? else {
            return Err(Dropped::Closed);
        };
        for frame in decoder.feed(&chunk) {
            if frame.id.is_some() {
                last_id.clone_from(&frame.id);
            }
            if frame.data == "[DONE]" {
                return Ok(());
            }
            let Ok(data) = serde_json::from_str::<Value>(&frame.data) else {
                continue;
            };
            if let Some(text) = data["content"].as_str().filter(|t| !t.is_empty()) {
                ended.text.push_str(text);
                print(text);
            }
            if let Some(error) = data["error"].as_str() {
                ended.error = Some(error.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_are_reassembled() {
        let wire = "id: 1\ndata: {\"content\":\"Echo: \"}\n\n: keep-alive\n\nid: 2\r\ndata: a\r\ndata: b\r\n\r\nid: 3\ndata: [DONE]\n\n";
        for split in 0..wire.len() {
            let mut decoder = Decoder::default();
            let mut frames = decoder.feed(&wire.as_bytes()[..split]);
            frames.extend(decoder.feed(&wire.as_bytes()[split..]));
            assert_eq!(
                frames,
                vec![
                    Frame {
                        id: Some("1".into()),
                        data: "{\"content\":\"Echo: \"}".into()
                    },
                    Frame {
                        id: Some("2".into()),
                        data: "a\nb".into()
                    },
                    Frame {
                        id: Some("3".into()),
                        data: "[DONE]".into()
                    },
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn an_event_without_data_is_not_a_frame() {
        let mut decoder = Decoder::default();
        assert!(decoder.feed(b"id: 7\n\n").is_empty());
        assert_eq!(
            decoder.feed(b"data: x\n\n"),
            vec![Frame {
                id: None,
                data: "x".into()
            }]
        );
    }
}
