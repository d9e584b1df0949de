//! JSON objects on the wire: JCS (RFC 8785) serialization, then base64url.
//!
//! The `request` and `opaque` challenge parameters are JSON objects encoded
//! this way, and the challenge id binds their *wire* form. [`Base64Json`]
//! therefore keeps both: the exact base64url text as received or produced,
//! and the decoded object. Values built here are always canonical; values
//! parsed from a peer keep the peer's bytes untouched, canonical or not, so
//! that the binding is checked over what the peer actually sent.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::base64url::{self, Base64Error};

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
fn canonical_value(value: &Value) -> Result<String, JsonError> {
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
fn has_wide_integer(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                // Strings (most of the text) are skipped 16 bytes at a time
                // up to the chunk holding their end or an escape, in a
                // check the compiler vectorizes.
                while let Some(chunk) = text.get(i..i + 16) {
                    let special = chunk.iter().fold(0u8, |special, &b| {
                        special | u8::from(b == b'"') | u8::from(b == b'\\')
                    });
                    if special != 0 {
                        break;
                    }
                    i += 16;
                }
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
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

/// The length of `text` written by [`push_json_string`].
pub(crate) fn json_string_len(text: &str) -> usize {
    if is_plain_json(text) {
        return text.len() + 2;
    }
    2 + text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | b'\t' | b'\n' | 0x0c | b'\r' => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Compact JSON with members sorted by key, keeping every number exactly as
/// `serde_json` holds it: the encoding of credentials and receipts, which
/// the specification does not require to be canonical.
pub(crate) fn compact_json(object: &Map<String, Value>) -> String {
    // `Map` is ordered (no `preserve_order` feature), and a map of JSON
    // values always serializes.
    serde_json::to_string(object).expect("a JSON map always serializes")
}

/// A JSON object carried as base64url-encoded text in a header parameter.
///
/// Equality compares the wire text, which is what the challenge binding signs.
/// The value is immutable and cheap to clone. The wire text is always
/// base64url (`A-Z a-z 0-9 - _`): every constructor encodes or strictly
/// decodes it.
#[derive(Clone)]
pub struct Base64Json {
    inner: Arc<Encoded>,
}

struct Encoded {
    wire: String,
    /// The decoded object, built on first use: parsing a credential only
    /// validates `request` and `opaque`, and the registry compares their
    /// wire text.
    object: OnceLock<Map<String, Value>>,
    /// The JSON text, kept until the object is built; `None` when the
    /// object was given.
    json: Option<Vec<u8>>,
    /// Known to map strings to strings without decoding it (it was
    /// written so).
    flat: bool,
}

impl Base64Json {
    /// Encodes a JSON object canonically (JCS, then base64url).
    ///
    /// # Errors
    ///
    /// [`JsonError`] if the value is not a JSON object or cannot be serialized.
    pub fn from_value(value: Value) -> Result<Self, JsonError> {
        match value {
            Value::Object(object) => Self::from_object(object),
            other => Err(JsonError {
                kind: JsonErrorKind::NotAnObject(json_type(&other)),
            }),
        }
    }

    /// Encodes a JSON object canonically (JCS, then base64url).
    ///
    /// # Errors
    ///
    /// [`JsonError`] if the object cannot be serialized.
    pub fn from_object(object: Map<String, Value>) -> Result<Self, JsonError> {
        let value = Value::Object(object);
        let wire = base64url::encode(canonical_value(&value)?);
        let Value::Object(object) = value else {
            unreachable!("built as an object just above")
        };
        Ok(Self::new(wire, object))
    }

    /// Serializes any `Serialize` type that produces a JSON object.
    ///
    /// # Errors
    ///
    /// [`JsonError`] if serialization fails or does not produce an object.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, JsonError> {
        let value = serde_json::to_value(value).map_err(|source| JsonError {
            kind: JsonErrorKind::Serialize(source),
        })?;
        Self::from_value(value)
    }

    /// Decodes wire text: base64url without padding holding a JSON object.
    ///
    /// The wire text is kept as given, canonical or not.
    ///
    /// # Errors
    ///
    /// [`JsonError`] for invalid base64url, invalid UTF-8, invalid JSON, or
    /// JSON that is not an object.
    pub fn from_wire(wire: &str) -> Result<Self, JsonError> {
        let json = base64url::decode(wire).map_err(|source| JsonError {
            kind: JsonErrorKind::Base64(source),
        })?;
        serde_json::from_slice::<serde::de::IgnoredAny>(&json).map_err(|source| JsonError {
            kind: JsonErrorKind::Parse(source),
        })?;
        let found = match json.trim_ascii_start().first() {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b't' | b'f') => Some("a boolean"),
            Some(b'n') => Some("null"),
            _ => Some("a number"),
        };
        if let Some(found) = found {
            return Err(JsonError {
                kind: JsonErrorKind::NotAnObject(found),
            });
        }
        if has_wide_integer(&json) {
            return Err(JsonError {
                kind: JsonErrorKind::WideInteger,
            });
        }
        Ok(Self {
            inner: Arc::new(Encoded {
                wire: wire.to_owned(),
                object: OnceLock::new(),
                json: Some(json),
                flat: false,
            }),
        })
    }

    /// [`from_wire`](Self::from_wire), answered without decoding when the
    /// text is the one this thread decoded last with this function: a
    /// server sees the same few `request` texts (its own, echoed) again and
    /// again. The value is the one `from_wire` gives for that text.
    pub(crate) fn from_wire_recent(wire: &str) -> Result<Self, JsonError> {
        thread_local! {
            static LAST: RefCell<Option<Base64Json>> = const { RefCell::new(None) };
        }
        let last = LAST.with_borrow(|last| last.as_ref().filter(|l| l.as_wire() == wire).cloned());
        if let Some(last) = last {
            return Ok(last);
        }
        let decoded = Self::from_wire(wire)?;
        LAST.set(Some(decoded.clone()));
        Ok(decoded)
    }

    /// Wraps the JCS text of an object of strings that the caller wrote
    /// (with [`push_json_string`]); the object is decoded on first use.
    pub(crate) fn from_canonical_string_map(json: String) -> Self {
        Self {
            inner: Arc::new(Encoded {
                wire: base64url::encode(&json),
                object: OnceLock::new(),
                json: Some(json.into_bytes()),
                flat: true,
            }),
        }
    }

    fn new(wire: String, object: Map<String, Value>) -> Self {
        Self {
            inner: Arc::new(Encoded {
                wire,
                object: OnceLock::from(object),
                json: None,
                flat: false,
            }),
        }
    }

    /// The base64url text as it appears on the wire.
    pub fn as_wire(&self) -> &str {
        &self.inner.wire
    }

    /// The decoded JSON object.
    pub fn object(&self) -> &Map<String, Value> {
        self.inner.object.get_or_init(|| {
            // Validated as a JSON object by `from_wire`.
            let json = self.inner.json.as_deref().unwrap_or(b"{}");
            match serde_json::from_slice(json) {
                Ok(Value::Object(object)) => object,
                _ => Map::new(),
            }
        })
    }

    /// Deserializes the decoded object into a typed value.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the object does not have the expected shape.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        T::deserialize(&Value::Object(self.object().clone())).map_err(|source| JsonError {
            kind: JsonErrorKind::Parse(source),
        })
    }

    /// Whether every member value is a string (the shape `opaque` must have).
    pub fn is_flat_string_map(&self) -> bool {
        self.inner.flat || self.object().values().all(Value::is_string)
    }

    /// Whether the wire text is the canonical (JCS) encoding of the object.
    pub fn is_canonical(&self) -> bool {
        canonical_json(self.object()).is_ok_and(|text| base64url::encode(text) == self.inner.wire)
    }
}

impl PartialEq for Base64Json {
    fn eq(&self, other: &Self) -> bool {
        self.inner.wire == other.inner.wire
    }
}

impl Eq for Base64Json {}

impl fmt::Debug for Base64Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Base64Json")
            .field("wire", &self.inner.wire)
            .field("object", self.object())
            .finish()
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value that could not be encoded or decoded.
#[derive(Debug)]
pub struct JsonError {
    kind: JsonErrorKind,
}

#[derive(Debug)]
enum JsonErrorKind {
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
