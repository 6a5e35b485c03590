//! Document metadata as uploads send it: a JSON object, or — leniently, because the Python
//! SDK sends `str(dict)` — the text form of a Python dict (`{'source': 'manual', 'page': 3,
//! 'draft': False, 'owner': None}`).
//!
//! The Python form accepted: dicts, lists and tuples, strings in single or double quotes
//! (with backslash escapes), integers, floats, `True`/`False`/`None`. Anything else is an
//! error naming the position. The result must be an object of at most [`MAX_BYTES`] bytes
//! as JSON.

use serde_json::{Map, Number, Value};

/// Largest metadata object accepted (as compact JSON).
pub const MAX_BYTES: usize = 16 * 1024;

/// Why metadata text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("must be a JSON object or a Python dict literal: {0}")]
    Syntax(String),
    #[error("must be an object")]
    NotObject,
    #[error("must be at most {MAX_BYTES} bytes as JSON")]
    TooLarge,
    #[error("must not contain NUL characters")]
    Nul,
}

/// Parses metadata text (JSON first, then the Python dict form); blank text is `{}`.
pub fn parse(text: &str) -> Result<Value, MetadataError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(json_err) => python_literal(text).map_err(|py_err| {
            MetadataError::Syntax(if text.contains('\'') {
                py_err.to_string()
            } else {
                json_err.to_string()
            })
        })?,
    };
    check(value)
}

/// Checks a metadata value: an object, bounded, no NUL characters (Postgres `jsonb` refuses
/// them).
pub fn check(value: Value) -> Result<Value, MetadataError> {
    if !value.is_object() {
        return Err(MetadataError::NotObject);
    }
    let json = value.to_string();
    if json.len() > MAX_BYTES {
        return Err(MetadataError::TooLarge);
    }
    if json.contains("\\u0000") {
        return Err(MetadataError::Nul);
    }
    Ok(value)
}

/// Where and why a Python literal does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{what} at character {at}")]
struct SyntaxError {
    what: String,
    at: usize,
}

/// A Python literal as JSON.
fn python_literal(text: &str) -> Result<Value, SyntaxError> {
    let mut parser = Py {
        chars: text.chars().collect(),
        at: 0,
    };
    let value = parser.value(0)?;
    parser.space();
    if parser.at != parser.chars.len() {
        return parser.fail("unexpected text");
    }
    Ok(value)
}

struct Py {
    chars: Vec<char>,
    at: usize,
}

impl Py {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            what: what.to_owned(),
            at: self.at,
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth > 32 {
            return self.fail("nested too deeply");
        }
        self.space();
        match self.peek() {
            Some('{') => self.dict(depth),
            Some('[') => self.sequence(']', depth),
            Some('(') => self.sequence(')', depth),
            Some(q @ ('\'' | '"')) => self.string(q).map(Value::String),
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    _ => {
                        self.at = start;
                        self.fail(&format!("unknown name `{word}`"))
                    }
                }
            }
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end"),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            self.space();
            if self.peek() == Some('}') {
                self.at += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "True" } else { "False" }.to_owned(),
                _ => return self.fail("a dict key must be a string or a number"),
            };
            self.space();
            if self.peek() != Some(':') {
                return self.fail("expected `:`");
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            self.space();
            match self.peek() {
                Some(',') => self.at += 1,
                Some('}') => {}
                _ => return self.fail("expected `,` or `}`"),
            }
        }
    }

    fn sequence(&mut self, close: char, depth: usize) -> Result<Value, SyntaxError> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.space();
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.space();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(c) if c == close => {}
                _ => return self.fail(&format!("expected `,` or `{close}`")),
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<String, SyntaxError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some(c @ ('\\' | '\'' | '"')) => c,
                        Some('u') => {
                            let hex: String = self.chars.iter().skip(self.at + 1).take(4).collect();
                            let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                            match code {
                                Some(c) if hex.len() == 4 => {
                                    self.at += 4;
                                    c
                                }
                                _ => return self.fail("bad \\u escape"),
                            }
                        }
                        _ => return self.fail("unknown escape"),
                    };
                    out.push(escaped);
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E' | '_'))
        {
            self.at += 1;
        }
        let raw: String = self.chars[start..self.at]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        if let Ok(int) = raw.parse::<i64>() {
            return Ok(Value::Number(int.into()));
        }
        match raw.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => {
                self.at = start;
                self.fail(&format!("bad number `{raw}`"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_the_python_dict_form_give_the_same_object() {
        let json = parse(
            r#"{"source": "manual", "page": 3, "tags": ["a", "b"], "draft": false, "owner": null}"#,
        )
        .unwrap();
        let python = parse(
            "{'source': 'manual', 'page': 3, 'tags': ['a', \"b\"], 'draft': False, 'owner': None}",
        )
        .unwrap();
        assert_eq!(json, python);
        assert_eq!(
            parse("{'it\\'s': 1.5, 'nested': {'t': (1, 2)}}").unwrap(),
            json!({"it's": 1.5, "nested": {"t": [1, 2]}})
        );
        assert_eq!(parse("  ").unwrap(), json!({}));
    }

    #[test]
    fn malformed_or_non_object_metadata_is_refused_with_a_position() {
        let err = parse("{'a': nope}").unwrap_err().to_string();
        assert!(
            err.contains("unknown name `nope`") && err.contains("character 6"),
            "{err}"
        );
        assert_eq!(parse("[1, 2]"), Err(MetadataError::NotObject));
        assert!(matches!(parse("{'a': 1"), Err(MetadataError::Syntax(_))));
        assert!(matches!(parse("{bad json"), Err(MetadataError::Syntax(_))));
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_BYTES));
        assert_eq!(parse(&big), Err(MetadataError::TooLarge));
        assert_eq!(parse(r#"{"a": "\u0000"}"#), Err(MetadataError::Nul));
    }
}
