//! Unit tests of the body scanner: NUL detection with escapes, number round-tripping and the
//! field paths of refusals.

use super::*;

fn refused(body: &str) -> Refusal {
    check(body.as_bytes()).expect_err(body)
}

fn passes(body: &str) {
    assert_eq!(check(body.as_bytes()), Ok(()), "{body}");
}

#[test]
fn an_escaped_nul_in_a_value_is_refused_with_its_path() {
    let refusal = refused(r#"{"name": "a\u0000b"}"#);
    assert_eq!(refusal.field, "name");
    assert_eq!(refusal.message, NUL_MESSAGE);
    assert_eq!(refused(r#"{"a": {"b": ["x", "\u0000"]}}"#).field, "a.b[1]");
    assert_eq!(
        refused(r#"[{"x": 1}, {"y": [[], {"z": "\u0000"}]}]"#).field,
        "[1].y[1].z"
    );
    assert_eq!(refused(r#""\u0000""#).field, "body");
}

#[test]
fn a_raw_nul_byte_in_a_string_is_refused_too() {
    assert_eq!(refused("{\"name\": \"a\0\"}").field, "name");
}

#[test]
fn a_nul_in_a_key_names_the_key_with_the_nul_shown_escaped() {
    let refusal = refused(r#"{"metadata": {"outer": {"k\u0000": 1}}}"#);
    assert_eq!(refusal.field, "metadata.outer.k\\u0000");
    assert_eq!(refused(r#"{"a": 1, "\u0000": 2}"#).field, "\\u0000");
}

#[test]
fn keys_with_escapes_are_decoded_in_the_path() {
    assert_eq!(refused(r#"{"a\"b\u00e9": "\u0000"}"#).field, "a\"bé");
}

#[test]
fn an_escaped_backslash_before_u0000_is_not_a_nul() {
    passes(r#"{"path": "C:\\u0000"}"#);
    passes(r#"{"path": "\\\\u0000"}"#);
    assert_eq!(refused(r#"{"q": "\\\u0000"}"#).field, "q");
    passes(r#"{"other": "\u0001\u0100 \u00e9 \"\u000a"}"#);
}

#[test]
fn well_formed_bodies_without_nul_or_inexact_numbers_pass() {
    passes(r#"{}"#);
    passes(r#"[]"#);
    passes(
        r#" { "a" : [ 1 , -2 , 0.5 , true , false , null , { } , [ ] , "s\"t" ] , "b" : { "c" : "d" } } "#,
    );
    passes(r#""just a string""#);
    passes("42");
}

#[test]
fn malformed_json_is_left_to_the_deserializer() {
    for body in [
        "",
        "{",
        "{\"a\"",
        "{\"a\":",
        "[1,",
        "{\"a\" 1}",
        "nope",
        "{\"a\":1}}",
        "\"unterminated",
    ] {
        passes(body);
    }
    for token in ["1e", "1-2", "-", "1.5e+", "01.5", "1.", ".5", "00", "1e+-2"] {
        passes(&format!(r#"{{"a": {token}}}"#));
    }
    // A refusal found before the syntax error is still reported.
    assert_eq!(refused(r#"{"a": "\u0000", "#).field, "a");
}

#[test]
fn nesting_deeper_than_serde_allows_is_left_to_the_deserializer() {
    let deep = format!("{}\"\\u0000\"{}", "[".repeat(200), "]".repeat(200));
    passes(&deep);
    let allowed = format!("{}\"\\u0000\"{}", "[".repeat(100), "]".repeat(100));
    assert!(refused(&allowed).field.starts_with("[0][0]"));
}

#[test]
fn integers_within_i64_or_u64_round_trip() {
    for token in [
        "0",
        "-0",
        "123456789012345678",
        "9007199254740992",
        "18446744073709551615",
        "-9223372036854775808",
    ] {
        assert!(number_round_trips(token.as_bytes()), "{token}");
    }
}

#[test]
fn integers_beyond_i64_and_u64_are_refused() {
    for token in [
        "18446744073709551616",
        "1180591620717411303424",
        "-9223372036854775809",
    ] {
        assert!(!number_round_trips(token.as_bytes()), "{token}");
    }
    assert_eq!(
        refused(r#"{"metadata": {"big": 1180591620717411303424}}"#),
        Refusal {
            field: "metadata.big".into(),
            message: NUMBER_MESSAGE
        }
    );
}

#[test]
fn floats_whose_f64_prints_back_the_same_decimal_round_trip() {
    for token in [
        "0.1",
        "1.5e3",
        "1.5E+3",
        "15e2",
        "1500.0",
        "0.0",
        "-0.0",
        "0e10",
        "-0.5",
        "2.5e-300",
        "1e21",
        "1.7976931348623157e308",
        "5e-324",
        "0.30000000000000004",
        "123.456",
        "0.001",
        "100e-2",
        "1e307",
        "1.5e-307",
        "123456789012345e-10",
        "0.1234567890123456",
    ] {
        assert!(number_round_trips(token.as_bytes()), "{token}");
    }
}

#[test]
fn floats_that_underflow_overflow_or_lose_digits_are_refused() {
    for token in [
        "1e-400",
        "1e400",
        "-1e400",
        "0.10000000000000000001",
        "3.141592653589793238",
        "1.7976931348623159e308",
        "2e-324",
        "1e99999999999999999999",
        "9.99999999999999e308",
        "0.12345678901234567",
    ] {
        assert!(!number_round_trips(token.as_bytes()), "{token}");
    }
    assert_eq!(refused(r#"{"a": [1, 2, 1e-400]}"#).field, "a[2]");
}
