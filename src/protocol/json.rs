//! JSON objects on the wire: JCS (RFC 8785) serialization, then base64url.
//!
//! The `request` and `opaque` challenge parameters are JSON objects encoded
//! this way, and the challenge id binds their *wire* form. [`Base64Json`]
//! therefore keeps both: the exact base64url text as received or produced,
//! and the decoded object. Values built here are always canonical; values
//! parsed from a peer keep the peer's bytes untouched, canonical or not, so
//! that the binding is checked over what the peer actually sent.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::base64url::Base64Error;
use super::scan;

/// Serializes a JSON value with the JSON Canonicalization Scheme (RFC 8785).
///
/// Object members are sorted by their UTF-16 code units, numbers use the
/// ECMAScript shortest round-trip form, strings use the minimal escapes.
/// JCS numbers are IEEE doubles, so an integer beyond ±(2^53 − 1) would be
/// silently rounded: it is refused instead (send large amounts as strings,
/// as the payment specifications do).
///
/// # Errors
///
/// [`JsonError`] if the value holds an integer JCS cannot represent exactly,
/// or cannot be serialized at all.
///
/// ```
/// use serde_json::json;
/// use tower_mpp::protocol::canonical_json;
/// let text = canonical_json(&json!({"b": 1, "a": [1.0, "é"]})).unwrap();
/// assert_eq!(text, r#"{"a":[1,"é"],"b":1}"#);
/// assert!(canonical_json(&json!({"amount": 9_007_199_254_740_993u64})).is_err());
/// ```
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, JsonError> {
    let value = serde_json::to_value(value).map_err(|source| JsonError {
        kind: JsonErrorKind::Serialize(source),
    })?;
    canonical_value(&value)
}

/// [`canonical_json`] of a value already in `serde_json` form, without
/// copying it.
pub(super) fn canonical_value(value: &Value) -> Result<String, JsonError> {
    check_exact_integers(value)?;
    serde_json_canonicalizer::to_string(value).map_err(|source| JsonError {
        kind: JsonErrorKind::Serialize(source),
    })
}

/// The largest integer an IEEE double holds exactly, with all below it.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn check_exact_integers(value: &Value) -> Result<(), JsonError> {
    match value {
        Value::Number(n) => {
            let exact = n.as_u64().is_none_or(|u| u <= MAX_SAFE_INTEGER)
                && n.as_i64()
                    .is_none_or(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if exact {
                Ok(())
            } else {
                Err(JsonError {
                    kind: JsonErrorKind::UnsafeInteger,
                })
            }
        }
        Value::Array(items) => items.iter().try_for_each(check_exact_integers),
        Value::Object(members) => members.values().try_for_each(check_exact_integers),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Parses JSON text, refusing integers that do not fit 64 bits.
///
/// `serde_json` would read such an integer as a float and round it; an
/// amount or nonce that changes value in transit is worse than an error.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, JsonError> {
    let value = serde_json::from_slice(bytes).map_err(|source| JsonError {
        kind: JsonErrorKind::Parse(source),
    })?;
    if has_wide_integer(bytes) {
        return Err(JsonError {
            kind: JsonErrorKind::WideInteger,
        });
    }
    Ok(value)
}

/// Whether valid JSON text holds an integer literal outside `i64`/`u64`.
pub(super) fn has_wide_integer(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                // Strings (most of the text) are skipped by byte search
                // from escape to escape up to their closing quote.
                i += 1;
                loop {
                    match text.get(i..).and_then(scan::find_quote_or_backslash) {
                        Some(offset) if text[i + offset] == b'"' => {
                            i += offset + 1;
                            break;
                        }
                        Some(offset) => i += offset + 2,
                        None => return false,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let token = &text[start..i];
                // 18 digits (and a sign) always fit.
                if token.len() < 19 {
                    continue;
                }
                let integer = !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
                let fits = std::str::from_utf8(token)
                    .is_ok_and(|t| t.parse::<i64>().is_ok() || t.parse::<u64>().is_ok());
                if integer && !fits {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// Appends `text` as a JSON string, escaped as `serde_json` and JCS
/// (RFC 8785, section 3.2.2.2) escape it: `"` and `\`, the short forms
/// `\b \t \n \f \r`, other control characters as `\u00xx`, and
/// everything else (DEL and non-ASCII included) as is.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    if is_plain_json(text) {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut rest = text;
    while let Some(i) = rest
        .bytes()
        .position(|b| b < 0x20 || b == b'"' || b == b'\\')
    {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(control >> 4)]));
                out.push(char::from(HEX[usize::from(control & 0xf)]));
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Whether `text` needs no escape in JSON (the usual case), in one pass
/// without early exit, which the compiler vectorizes (as `push_quoted`).
fn is_plain_json(text: &str) -> bool {
    let special = text.bytes().fold(0u8, |special, b| {
        special | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\')
    });
    special == 0
}

/// Compact JSON with members sorted by key, keeping every number exactly as
/// `serde_json` holds it: the encoding of credentials and receipts, which
/// the specification does not require to be canonical.
pub(crate) fn compact_json(object: &Map<String, Value>) -> String {
    // `Map` keeps its keys sorted unless another crate of the build turns
    // on serde_json's `preserve_order`; then a sorted copy is written.
    let text = if is_sorted(object) {
        serde_json::to_string(object)
    } else {
        let mut copy = Value::Object(object.clone());
        copy.sort_all_objects();
        serde_json::to_string(&copy)
    };
    text.expect("a JSON map always serializes")
}

/// Whether the members of `object`, and of every object within it, are
/// in key order.
fn is_sorted(object: &Map<String, Value>) -> bool {
    fn sorted_within(value: &Value) -> bool {
        match value {
            Value::Object(object) => is_sorted(object),
            Value::Array(items) => items.iter().all(sorted_within),
            _ => true,
        }
    }
    object.keys().is_sorted() && object.values().all(sorted_within)
}

/// A JSON value that could not be encoded or decoded.
#[derive(Debug)]
pub struct JsonError {
    pub(super) kind: JsonErrorKind,
}

#[derive(Debug)]
pub(super) enum JsonErrorKind {
    Base64(Base64Error),
    Parse(serde_json::Error),
    Serialize(serde_json::Error),
    NotAnObject(&'static str),
    UnsafeInteger,
    WideInteger,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            JsonErrorKind::Base64(_) => f.write_str("the value is not valid base64url"),
            JsonErrorKind::Parse(_) => f.write_str("the value is not the expected JSON"),
            JsonErrorKind::Serialize(_) => f.write_str("the value cannot be serialized as JSON"),
            JsonErrorKind::NotAnObject(found) => {
                write!(f, "expected a JSON object, found {found}")
            }
            JsonErrorKind::WideInteger => {
                f.write_str("an integer does not fit in 64 bits; send it as a string")
            }
            JsonErrorKind::UnsafeInteger => f.write_str(
                "an integer beyond ±(2^53 - 1) cannot be canonicalized exactly; send it as a string",
            ),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            JsonErrorKind::Base64(e) => Some(e),
            JsonErrorKind::Parse(e) | JsonErrorKind::Serialize(e) => Some(e),
            JsonErrorKind::NotAnObject(_)
            | JsonErrorKind::UnsafeInteger
            | JsonErrorKind::WideInteger => None,
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
