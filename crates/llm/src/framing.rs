//! Framing of streamed response bodies: a byte line splitter, the Server-Sent Events parser
//! (OpenAI, Anthropic) and the NDJSON splitter (Ollama).
//!
//! Bodies arrive as arbitrary `chunk()` slices: a line, an event or a multi-byte UTF-8
//! character can be split anywhere. So bytes are buffered and split on `\n` first, and only
//! complete lines are decoded as UTF-8.

use std::fmt;

/// Longest line buffered before giving up: a misbehaving upstream must not grow memory
/// without bound.
pub(crate) const MAX_LINE_BYTES: usize = 8 << 20;

/// A framing failure (reported as [`crate::LlmError::Malformed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FramingError {
    /// No newline within [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A complete line was not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong => write!(f, "a stream line exceeds {MAX_LINE_BYTES} bytes"),
            Self::InvalidUtf8 => f.write_str("the stream is not valid UTF-8"),
        }
    }
}

/// Splits a byte stream into lines (without the `\n` or `\r\n` terminator).
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    /// Start of the first unconsumed byte in `buf`.
    start: usize,
    /// Where the next newline search resumes (everything before has no newline).
    scanned: usize,
}

impl LineSplitter {
    /// Appends a chunk; take the complete lines with [`Self::next_line`].
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            // Compact lazily, once per chunk, instead of once per line.
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line, if one is buffered.
    pub(crate) fn next_line(&mut self) -> Result<Option<&[u8]>, FramingError> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(offset) => {
                let end = self.scanned + offset;
                let line_start = self.start;
                self.start = end + 1;
                self.scanned = self.start;
                Ok(Some(strip_cr(&self.buf[line_start..end])))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.start > MAX_LINE_BYTES {
                    return Err(FramingError::LineTooLong);
                }
                Ok(None)
            }
        }
    }

    /// At the end of the body: the unterminated last line, if any.
    pub(crate) fn finish(&mut self) -> Option<&[u8]> {
        let rest = &self.buf[self.start..];
        self.start = self.buf.len();
        self.scanned = self.start;
        (!rest.is_empty()).then(|| strip_cr(rest))
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One dispatched Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, when present.
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// Incremental Server-Sent Events parser (the WHATWG event-stream format: `field: value`
/// lines, events ended by a blank line, `:` comments, unknown fields ignored).
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    lines: LineSplitter,
    pending: PendingEvent,
}

#[derive(Debug, Default)]
struct PendingEvent {
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Whether the first line was seen (a UTF-8 byte order mark may precede it).
    started: bool,
}

impl SseParser {
    /// Feeds a body chunk and returns the events it completed.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, FramingError> {
        self.lines.push(chunk);
        let mut events = Vec::new();
        while let Some(line) = self.lines.next_line()? {
            if let Some(event) = self.pending.line(line)? {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// At the end of the body: the last event if the stream ended without its blank line.
    /// (The standard says to drop it; servers that omit the final blank line are common
    /// enough that keeping it is the more useful choice.)
    pub(crate) fn finish(&mut self) -> Result<Option<SseEvent>, FramingError> {
        if let Some(line) = self.lines.finish()
            && let Some(event) = self.pending.line(line)?
        {
            return Ok(Some(event));
        }
        Ok(self.pending.dispatch())
    }
}

impl PendingEvent {
    fn line(&mut self, mut line: &[u8]) -> Result<Option<SseEvent>, FramingError> {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None); // comment, e.g. keep-alive pings
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = std::str::from_utf8(value).map_err(|_| FramingError::InvalidUtf8)?;
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.to_owned()),
            _ => {} // id, retry and unknown fields do not matter here
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return None; // an event without data is not dispatched
        }
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

/// Splits a newline-delimited JSON body into its non-blank lines.
#[derive(Debug, Default)]
pub(crate) struct NdjsonSplitter {
    lines: LineSplitter,
}

impl NdjsonSplitter {
    /// Feeds a body chunk and returns the complete, non-blank lines it finished.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.lines.push(chunk);
        let mut out = Vec::new();
        while let Some(line) = self.lines.next_line()? {
            if !line.trim_ascii().is_empty() {
                out.push(line.to_vec());
            }
        }
        Ok(out)
    }

    /// At the end of the body: the last line if it had no terminating newline.
    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        self.lines
            .finish()
            .filter(|line| !line.trim_ascii().is_empty())
            .map(<[u8]>::to_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(parser.feed(chunk).unwrap());
        }
        events.extend(parser.finish().unwrap());
        events
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    const STREAM: &str = "\u{feff}: keep-alive\r\n\
        event: message_start\r\ndata: {\"t\":\"héllo 👋\"}\r\n\r\n\
        id: 7\nretry: 100\nunknown\ndata:first\ndata: second\n\n\
        data\n\n\
        event: orphan\n\n\
        data: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            ev(Some("message_start"), "{\"t\":\"héllo 👋\"}"),
            ev(None, "first\nsecond"),
            ev(None, ""),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn sse_whole_stream() {
        assert_eq!(sse_all(&[STREAM.as_bytes()]), expected());
    }

    #[test]
    fn sse_every_two_way_split_including_inside_utf8() {
        let bytes = STREAM.as_bytes();
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            assert_eq!(sse_all(&[a, b]), expected(), "split at {split}");
        }
    }

    #[test]
    fn sse_byte_by_byte() {
        let chunks: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
        assert_eq!(sse_all(&chunks), expected());
    }

    #[test]
    fn sse_uneven_chunks() {
        let bytes = STREAM.as_bytes();
        for size in [2, 3, 5, 7, 13] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(sse_all(&chunks), expected(), "chunk size {size}");
        }
    }

    #[test]
    fn sse_last_event_without_blank_line_is_kept() {
        assert_eq!(
            sse_all(&[b"data: a\n\ndata: b"]),
            vec![ev(None, "a"), ev(None, "b")]
        );
        assert_eq!(sse_all(&[b"data: a\n"]), vec![ev(None, "a")]);
    }

    #[test]
    fn sse_rejects_invalid_utf8_and_runaway_lines() {
        let mut parser = SseParser::default();
        assert_eq!(parser.feed(b"data: \xff\n"), Err(FramingError::InvalidUtf8));
        let mut parser = SseParser::default();
        let big = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(parser.feed(&big), Err(FramingError::LineTooLong));
    }

    fn ndjson_all(chunks: &[&[u8]]) -> Vec<serde_json::Value> {
        let mut splitter = NdjsonSplitter::default();
        let mut lines = Vec::new();
        for chunk in chunks {
            lines.extend(splitter.feed(chunk).unwrap());
        }
        lines.extend(splitter.finish());
        lines
            .iter()
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect()
    }

    const NDJSON: &str = "{\"a\":\"ü🦀\"}\r\n\n  \n{\"b\":2}\n{\"c\":3}";

    #[test]
    fn ndjson_every_split_and_byte_by_byte() {
        let bytes = NDJSON.as_bytes();
        let expected = vec![
            serde_json::json!({"a": "ü🦀"}),
            serde_json::json!({"b": 2}),
            serde_json::json!({"c": 3}),
        ];
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            assert_eq!(ndjson_all(&[a, b]), expected, "split at {split}");
        }
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(ndjson_all(&chunks), expected);
    }

    #[test]
    fn line_splitter_keeps_partial_lines_across_pushes() {
        let mut lines = LineSplitter::default();
        lines.push(b"ab");
        assert_eq!(lines.next_line().unwrap(), None);
        lines.push(b"c\nde");
        assert_eq!(lines.next_line().unwrap(), Some(&b"abc"[..]));
        assert_eq!(lines.next_line().unwrap(), None);
        lines.push(b"f\r\n");
        assert_eq!(lines.next_line().unwrap(), Some(&b"def"[..]));
        assert_eq!(lines.finish(), None);
    }
}
