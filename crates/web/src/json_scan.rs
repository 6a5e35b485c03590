//! One pass over a raw JSON body, before it is deserialized, refusing what would otherwise
//! reach Postgres as a 500 or be stored changed:
//!
//! - a NUL character in any string or object key (`\u0000`, or a raw 0x00 byte); `\\u0000`
//!   is an escaped backslash followed by text, not a NUL;
//! - a number serde_json cannot carry exactly: an integer outside `i64`/`u64` (serde_json
//!   would silently make it an `f64`), or a number with a fraction or exponent whose `f64`
//!   does not serialize back to the same decimal (`1e-400` → 0, `1e400` → out of range,
//!   `0.10000000000000000001` → 0.1, more significant digits than an `f64` keeps).
//!   "The same decimal" compares canonical forms: sign, significant digits without leading or
//!   trailing zeros, and the decimal exponent, so `1.5e3`, `1500.0` and `15e2` are equal and
//!   `-0`/`0.0` are zero. Clients that send the shortest representation of their doubles
//!   (JavaScript, Python, Go, serde) always pass.
//!
//! Refusing is preferred to keeping every number (serde_json's `arbitrary_precision`): that
//! feature is workspace-wide, breaks `#[serde(untagged)]` and `flatten` deserialization and
//! slows every number, for values no real client sends; a 422 makes the rare loss visible.
//!
//! The scan is O(n), keeps its container stack in a fixed array and allocates only to name
//! the field of a refusal. It is lenient: on anything that is not well-formed JSON (or nests
//! deeper than serde_json's recursion limit) it stops and lets the deserializer report the
//! syntax error. Number tokens are parsed by serde_json itself, so the check agrees with what
//! deserialization would store.

mod number;

pub use number::number_round_trips;

/// Why a body is refused, and where (a path such as `metadata.tags[1]`, or `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: String,
    pub message: &'static str,
}

/// The message for a NUL character.
pub const NUL_MESSAGE: &str = "must not contain the NUL character";
/// The message for a number that would not round-trip.
pub const NUMBER_MESSAGE: &str = "number cannot be stored exactly (beyond the range of a 64-bit \
     integer or the precision of a 64-bit float); send fewer digits or a string";

/// serde_json's recursion limit: deeper bodies are its error to report.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, Copy)]
enum Frame {
    /// An object; the byte range of the current key's contents (between the quotes).
    Object { key: (usize, usize) },
    /// An array; the index of the current element.
    Array { index: usize },
}

/// Scans `body`; `Err` names the first field holding a NUL or an inexact number.
pub fn check(body: &[u8]) -> Result<(), Refusal> {
    Scanner {
        bytes: body,
        pos: 0,
        stack: [Frame::Array { index: 0 }; MAX_DEPTH],
        depth: 0,
    }
    .run()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: [Frame; MAX_DEPTH],
    depth: usize,
}

/// The scan stopped: a refusal, or malformed JSON left to the deserializer.
enum Stop {
    Refused(Refusal),
    Malformed,
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Stop::Refused(refusal)
    }
}

impl Scanner<'_> {
    fn run(mut self) -> Result<(), Refusal> {
        match self.values() {
            Ok(()) | Err(Stop::Malformed) => Ok(()),
            Err(Stop::Refused(refusal)) => Err(refusal),
        }
    }

    /// The main loop: read a value, then the punctuation after it, until the top level ends.
    fn values(&mut self) -> Result<(), Stop> {
        loop {
            self.value()?;
            // After a value: close containers or move to the next element or member.
            loop {
                self.skip_whitespace();
                if self.depth == 0 {
                    return Ok(());
                }
                let byte = self.peek()?;
                self.pos += 1;
                match (self.stack[self.depth - 1], byte) {
                    (Frame::Object { .. }, b'}') | (Frame::Array { .. }, b']') => self.depth -= 1,
                    (Frame::Object { .. }, b',') => {
                        self.skip_whitespace();
                        let key = self.key()?;
                        self.stack[self.depth - 1] = Frame::Object { key };
                        break;
                    }
                    (Frame::Array { index }, b',') => {
                        self.stack[self.depth - 1] = Frame::Array { index: index + 1 };
                        break;
                    }
                    _ => return Err(Stop::Malformed),
                }
            }
        }
    }

    /// Reads one value; a container's opening only (its members follow in [`Self::values`]).
    fn value(&mut self) -> Result<(), Stop> {
        loop {
            self.skip_whitespace();
            match self.peek()? {
                b'{' => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek()? == b'}' {
                        self.pos += 1;
                        return Ok(());
                    }
                    let frame = Frame::Object { key: (0, 0) };
                    self.push(frame)?;
                    let key = self.key()?;
                    self.stack[self.depth - 1] = Frame::Object { key };
                }
                b'[' => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek()? == b']' {
                        self.pos += 1;
                        return Ok(());
                    }
                    self.push(Frame::Array { index: 0 })?;
                }
                b'"' => {
                    let (_, _, has_nul) = self.string()?;
                    if has_nul {
                        return Err(self.refuse(None, NUL_MESSAGE).into());
                    }
                    return Ok(());
                }
                b'-' | b'0'..=b'9' => {
                    let start = self.pos;
                    while self.pos < self.bytes.len()
                        && matches!(
                            self.bytes[self.pos],
                            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                        )
                    {
                        self.pos += 1;
                    }
                    if !number_round_trips(&self.bytes[start..self.pos]) {
                        return Err(self.refuse(None, NUMBER_MESSAGE).into());
                    }
                    return Ok(());
                }
                b't' | b'f' | b'n' => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_lowercase() {
                        self.pos += 1;
                    }
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// Reads `"key"` and the `:` after it; returns the key's contents range.
    fn key(&mut self) -> Result<(usize, usize), Stop> {
        if self.peek()? != b'"' {
            return Err(Stop::Malformed);
        }
        let (start, end, has_nul) = self.string()?;
        if has_nul {
            return Err(self.refuse(Some((start, end)), NUL_MESSAGE).into());
        }
        self.skip_whitespace();
        if self.peek()? != b':' {
            return Err(Stop::Malformed);
        }
        self.pos += 1;
        Ok((start, end))
    }

    /// Reads a string starting at its opening quote; returns its contents range and whether
    /// it holds a NUL.
    fn string(&mut self) -> Result<(usize, usize, bool), Stop> {
        self.pos += 1;
        let start = self.pos;
        let mut has_nul = false;
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'"' => {
                    self.pos += 1;
                    return Ok((start, self.pos - 1, has_nul));
                }
                b'\\' => {
                    // `\u0000` is a NUL; any other escape (`\\`, `\"`, `\u00e9`) is skipped
                    // whole, so `\\u0000` is a backslash followed by the text `u0000`.
                    if self.bytes.get(self.pos + 1) == Some(&b'u') {
                        has_nul |= self.bytes.get(self.pos + 2..self.pos + 6) == Some(b"0000");
                        self.pos += 6;
                    } else {
                        self.pos += 2;
                    }
                }
                0 => {
                    has_nul = true;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        Err(Stop::Malformed)
    }

    fn push(&mut self, frame: Frame) -> Result<(), Stop> {
        if self.depth == MAX_DEPTH {
            return Err(Stop::Malformed);
        }
        self.stack[self.depth] = frame;
        self.depth += 1;
        Ok(())
    }

    fn peek(&self) -> Result<u8, Stop> {
        self.bytes.get(self.pos).copied().ok_or(Stop::Malformed)
    }

    fn skip_whitespace(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.pos += 1;
        }
    }

    /// A refusal at the current path; `key` when the innermost object's key being read is
    /// itself the problem.
    fn refuse(&self, key: Option<(usize, usize)>, message: &'static str) -> Refusal {
        use std::fmt::Write as _;
        let mut field = String::new();
        for (level, frame) in self.stack[..self.depth].iter().enumerate() {
            match (frame, key) {
                (Frame::Object { .. }, Some(key)) if level + 1 == self.depth => {
                    self.push_key(&mut field, key);
                }
                (Frame::Object { key }, _) => self.push_key(&mut field, *key),
                (Frame::Array { index }, _) => {
                    let _ = write!(field, "[{index}]");
                }
            }
        }
        if field.is_empty() {
            field.push_str("body");
        }
        Refusal { field, message }
    }

    fn push_key(&self, field: &mut String, key: (usize, usize)) {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(&self.key_text(key));
    }

    /// A key decoded for an error message, a NUL shown as `\u0000`.
    fn key_text(&self, (start, end): (usize, usize)) -> String {
        let decoded = serde_json::from_slice::<String>(&self.bytes[start - 1..=end])
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.bytes[start..end]).into_owned());
        decoded.replace('\0', "\\u0000")
    }
}

#[cfg(test)]
mod tests;
