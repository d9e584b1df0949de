//! [`Base64Json`]: a JSON object carried as base64url text in a header
//! parameter (`request`, `opaque`), kept both as the wire text the
//! challenge id binds and as the object, built on first use.
//!
//! Text from a peer is checked once, when it is read, as the general
//! parser reads it (see [`json_shape`](super::json_shape)), and the object
//! is decoded again from the wire text only when asked for.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::base64url;
use super::json::{JsonError, JsonErrorKind, canonical_value, has_wide_integer};
use super::json_shape;

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
    /// The decoded object (always a `Value::Object`), built on first use
    /// from the wire text: parsing a credential only validates `request`
    /// and `opaque`, and the registry compares their wire text.
    object: OnceLock<Value>,
    /// The JSON text when this crate wrote it (then it is not decoded
    /// again).
    json: Option<String>,
    /// Known to map strings to strings without building the object (it was
    /// written so, or read so).
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
        base64url::with_decoded::<512, _>(wire, |json| Self::from_decoded(wire, json)).map_err(
            |source| JsonError {
                kind: JsonErrorKind::Base64(source),
            },
        )?
    }

    /// [`from_wire`](Self::from_wire) once `wire` is decoded to `json`.
    fn from_decoded(wire: &str, json: &[u8]) -> Result<Self, JsonError> {
        // Checked as a `Value` would be read, without building it (the
        // object is built on first use, from the wire text again).
        let shape = json_shape::read(json).map_err(|source| JsonError {
            kind: JsonErrorKind::Parse(source),
        })?;
        if shape.reserved {
            return Self::from_wire_as_value(wire, json);
        }
        if let Some(found) = shape.not_object {
            return Err(JsonError {
                kind: JsonErrorKind::NotAnObject(found),
            });
        }
        // A wide integer reads as a float: without one, none to look for.
        if shape.floats && has_wide_integer(json) {
            return Err(JsonError {
                kind: JsonErrorKind::WideInteger,
            });
        }
        Ok(Self {
            inner: Arc::new(Encoded {
                wire: wire.to_owned(),
                object: OnceLock::new(),
                json: None,
                flat: shape.flat,
            }),
        })
    }

    /// [`from_wire`](Self::from_wire) for a text with a member name that
    /// `serde_json` reserves: whatever a `Value` reads from it decides.
    fn from_wire_as_value(wire: &str, json: &[u8]) -> Result<Self, JsonError> {
        let value: Value = serde_json::from_slice(json).map_err(|source| JsonError {
            kind: JsonErrorKind::Parse(source),
        })?;
        let Value::Object(object) = value else {
            return Err(JsonError {
                kind: JsonErrorKind::NotAnObject(json_type(&value)),
            });
        };
        if has_wide_integer(json) {
            return Err(JsonError {
                kind: JsonErrorKind::WideInteger,
            });
        }
        Ok(Self::new(wire.to_owned(), object))
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
                json: Some(json),
                flat: true,
            }),
        }
    }

    fn new(wire: String, object: Map<String, Value>) -> Self {
        Self {
            inner: Arc::new(Encoded {
                wire,
                object: OnceLock::from(Value::Object(object)),
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
        let Value::Object(object) = self.value() else {
            unreachable!("`value` is always an object")
        };
        object
    }

    /// The decoded object as a `Value::Object`, built on first use.
    fn value(&self) -> &Value {
        self.inner.object.get_or_init(|| {
            // Checked by `from_wire` as a `Value` reads it, or written by
            // this crate: it reads as an object.
            let value = match &self.inner.json {
                Some(json) => serde_json::from_str(json).ok(),
                None => base64url::with_decoded::<512, _>(&self.inner.wire, |json| {
                    serde_json::from_slice(json).ok()
                })
                .ok()
                .flatten(),
            };
            match value {
                Some(object @ Value::Object(_)) => object,
                _ => Value::Object(Map::new()),
            }
        })
    }

    /// Deserializes the decoded object into a typed value.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the object does not have the expected shape.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        T::deserialize(self.value()).map_err(|source| JsonError {
            kind: JsonErrorKind::Parse(source),
        })
    }

    /// Whether every member value is a string (the shape `opaque` must have).
    pub fn is_flat_string_map(&self) -> bool {
        self.inner.flat || self.object().values().all(Value::is_string)
    }

    /// Whether the wire text is the canonical (JCS) encoding of the object.
    pub fn is_canonical(&self) -> bool {
        canonical_value(self.value()).is_ok_and(|text| base64url::encode(text) == self.inner.wire)
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

#[cfg(test)]
#[path = "base64_json_tests.rs"]
mod tests;
