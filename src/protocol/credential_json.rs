//! The fast reading of a credential's JSON: one typed pass that borrows
//! the echoed challenge's strings instead of building a `Value` tree.
//!
//! It answers only for the credentials it is sure of. Anything unusual (an
//! error of any kind, a float or an integer too wide for 64 bits anywhere,
//! a challenge echo of more than [`MAX_ECHO_FIELDS`] fields) returns
//! `None`, and the caller reads the text again with the general parser,
//! which decides and words the error. So this pass accepts a subset of what
//! the general parser accepts, and yields the same credential for it:
//!
//! - the same `serde_json` deserializer reads every byte, with the same
//!   checks (syntax, UTF-8, escapes, number range, nesting depth), because
//!   every value, even an unknown member's, is read through
//!   `deserialize_any` or a typed equivalent, never skipped;
//! - a member repeated with the same name keeps its last value, as a map
//!   does;
//! - an integer outside 64 bits reads as a float: any float sends the text
//!   to the general parser, which scans for such integers;
//! - `payload` is read as a `Value`, as the general parser reads it; a
//!   member name that `serde_json` reserves for its own use
//!   (`$serde_json::private::...`, which changes how a `Value` reads the
//!   object holding it) sends the text to the general parser.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The most challenge fields read here; more go to the general parser
/// (a challenge has nine parameters, and duplicates are found pairwise).
const MAX_ECHO_FIELDS: usize = 16;

/// A credential's members, read with borrowed challenge strings.
pub(super) struct FastCredential<'de> {
    /// The challenge's string-valued fields, last value per name, `null`s
    /// dropped.
    pub(super) echo: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    pub(super) payload: Map<String, Value>,
    pub(super) source: Option<String>,
}

/// Reads `bytes` if it is a credential this pass is sure of (see the
/// module docs); `None` otherwise.
pub(super) fn read(bytes: &[u8]) -> Option<FastCredential<'_>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = de.deserialize_map(TopVisitor).ok()?;
    de.end().ok()?;
    if top.floats {
        return None;
    }
    let echo = top.echo?;
    let Value::Object(payload) = top.payload? else {
        return None;
    };
    // The last value of each name, as a map keeps it; `null` is no value.
    let mut fields = Vec::with_capacity(echo.len());
    for (i, (name, value)) in echo.iter().enumerate() {
        if echo[i + 1..].iter().any(|(later, _)| later == name) {
            continue;
        }
        if let Some(value) = value {
            fields.push((name.clone(), value.clone()));
        }
    }
    Some(FastCredential {
        echo: fields,
        payload,
        source: top.source,
    })
}

fn holds_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(holds_float),
        Value::Object(members) => members.values().any(holds_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

type Echo<'de> = Vec<(Cow<'de, str>, Option<Cow<'de, str>>)>;

#[derive(Default)]
struct Top<'de> {
    echo: Option<Echo<'de>>,
    payload: Option<Value>,
    source: Option<String>,
    floats: bool,
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a credential object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top::default();
        while let Some(Text(name)) = map.next_key()? {
            reserved(&name)?;
            match name.as_ref() {
                "challenge" => top.echo = Some(map.next_value_seed(EchoSeed)?),
                "payload" => {
                    // Every value read counts, even one a later member
                    // replaces: the general parser scans the whole text.
                    let payload: Value = map.next_value()?;
                    top.floats |= holds_float(&payload);
                    top.payload = Some(payload);
                }
                "source" => top.source = map.next_value_seed(SourceSeed)?,
                _ => top.floats |= map.next_value::<Checked>()?.0,
            }
        }
        Ok(top)
    }
}

/// Refuses the member names `serde_json` reserves: a `Value` reads an
/// object whose first member has one as something else.
fn reserved<E: de::Error>(name: &str) -> Result<(), E> {
    if name.starts_with("$serde_json::private::") {
        Err(E::custom("a reserved member name"))
    } else {
        Ok(())
    }
}

/// A string, borrowed from the input when it holds no escape.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

/// The echoed challenge: an object of strings or `null`s.
struct EchoSeed;

impl<'de> DeserializeSeed<'de> for EchoSeed {
    type Value = Echo<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EchoSeed {
    type Value = Echo<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut echo = Vec::with_capacity(9);
        while let Some(Text(name)) = map.next_key()? {
            reserved(&name)?;
            if echo.len() == MAX_ECHO_FIELDS {
                return Err(de::Error::custom("too many fields"));
            }
            echo.push((name, map.next_value_seed(NullableText)?));
        }
        Ok(echo)
    }
}

/// A string or `null`.
struct NullableText;

impl<'de> DeserializeSeed<'de> for NullableText {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NullableText {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
}

/// `source`: a string or `null`, owned.
struct SourceSeed;

impl<'de> DeserializeSeed<'de> for SourceSeed {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        Ok(NullableText.deserialize(deserializer)?.map(Cow::into_owned))
    }
}

/// Any JSON value, read in full and dropped; `true` when it holds a float.
struct Checked(bool);

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Checked(false))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Checked(false))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Checked(false))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Checked(false))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Checked(true))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Checked(false))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut floats = false;
        while let Some(Checked(f)) = seq.next_element()? {
            floats |= f;
        }
        Ok(Checked(floats))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut floats = false;
        while let Some(Text(name)) = map.next_key()? {
            reserved(&name)?;
            floats |= map.next_value::<Checked>()?.0;
        }
        Ok(Checked(floats))
    }
}

#[cfg(test)]
#[path = "credential_json_tests.rs"]
mod tests;
