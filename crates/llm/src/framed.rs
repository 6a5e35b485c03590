//! A streamed response decoded frame by frame ([`Framed`]): the loop over a body's frames
//! (Server-Sent Events for OpenAI and Anthropic, NDJSON lines for Ollama) and the checks at
//! its end, written once; each protocol says only what one frame means ([`Frames`]).

use std::sync::Arc;

use crate::framing::{FramingError, NdjsonSplitter, SseParser};
use crate::wire::StreamDecoder;
use crate::{ChatResponse, LlmError};

/// A body framing: bytes in, complete frames out.
pub(crate) trait Framing: Default + Send {
    /// One frame: an event's data, a line.
    type Frame;

    /// Feeds a body chunk and returns the frames it completed.
    fn frames(&mut self, chunk: &[u8]) -> Result<Vec<Self::Frame>, FramingError>;

    /// At the end of the body: the last frame, if it was left unterminated.
    fn last(&mut self) -> Result<Option<Self::Frame>, FramingError>;
}

impl Framing for SseParser {
    /// The `data` of an event (no protocol here reads its `event:` name).
    type Frame = String;

    fn frames(&mut self, chunk: &[u8]) -> Result<Vec<String>, FramingError> {
        Ok(self.feed(chunk)?.into_iter().map(|e| e.data).collect())
    }

    fn last(&mut self) -> Result<Option<String>, FramingError> {
        Ok(self.finish()?.map(|e| e.data))
    }
}

impl Framing for NdjsonSplitter {
    type Frame = Vec<u8>;

    fn frames(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.feed(chunk)
    }

    fn last(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        Ok(self.finish())
    }
}

/// What a protocol's stream is made of and what each of its frames means.
pub(crate) trait Frames: Send {
    /// The framing of the body.
    type Framing: Framing;

    /// What a body that ends without the end marker lacks, e.g. "the stream ended before
    /// [DONE]".
    const CUT_SHORT: &'static str;

    /// Decodes one frame, appending the text deltas it completed to `deltas`.
    fn frame(
        &mut self,
        frame: &<Self::Framing as Framing>::Frame,
        deltas: &mut Vec<String>,
    ) -> Result<(), LlmError>;

    /// Whether the protocol's end-of-stream marker was seen.
    fn done(&self) -> bool;

    /// Whether a body that ended without the marker is complete all the same (servers that
    /// leave out OpenAI's `[DONE]` still send a finish reason).
    fn complete_without_marker(&self) -> bool {
        false
    }

    /// The aggregate response once the stream is complete.
    fn response(self) -> Result<ChatResponse, LlmError>;
}

/// The [`StreamDecoder`] of a protocol `P`: its framing and its state.
pub(crate) struct Framed<P: Frames> {
    provider: Arc<str>,
    framing: P::Framing,
    pub(crate) protocol: P,
}

impl<P: Frames> Framed<P> {
    /// A decoder of `provider`'s stream starting in `protocol`.
    pub(crate) fn new(provider: Arc<str>, protocol: P) -> Self {
        Self {
            provider,
            framing: P::Framing::default(),
            protocol,
        }
    }

    fn malformed(&self, err: FramingError) -> LlmError {
        LlmError::malformed(&self.provider, err.to_string())
    }
}

impl<P: Frames> StreamDecoder for Framed<P> {
    fn feed(&mut self, chunk: &[u8], deltas: &mut Vec<String>) -> Result<bool, LlmError> {
        let frames = self.framing.frames(chunk).map_err(|e| self.malformed(e))?;
        for frame in frames {
            self.protocol.frame(&frame, deltas)?;
            if self.protocol.done() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn finish(mut self) -> Result<ChatResponse, LlmError> {
        if !self.protocol.done() {
            let last = self.framing.last().map_err(|e| self.malformed(e))?;
            if let Some(frame) = last {
                // Too late to stream its text, but it still belongs to the aggregate.
                self.protocol.frame(&frame, &mut Vec::new())?;
            }
            if !self.protocol.done() && !self.protocol.complete_without_marker() {
                return Err(LlmError::malformed(&self.provider, P::CUT_SHORT));
            }
        }
        self.protocol.response()
    }
}
