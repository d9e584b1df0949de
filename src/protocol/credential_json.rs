//! The fast reading of a credential's JSON: it borrows the echoed
//! challenge's strings instead of building a `Value` tree.
//!
//! The usual credential is plain JSON (objects of strings without escapes,
//! see [`json_plain`](super::json_plain)) and is read that way first, at a
//! byte search per string; any other goes to a typed `serde_json` pass,
//! which yields the same credential for plain JSON (the tests compare
//! them).
//!
//! The typed pass answers only for the credentials it is sure of.
//! Anything unusual (an error of any kind, a float or an integer too wide
//! for 64 bits anywhere, a challenge echo of more than [`MAX_ECHO_FIELDS`]
//! fields) returns `None`, and the caller reads the text again with the
//! general parser, which decides and words the error. So this pass accepts
//! a subset of what the general parser accepts, and yields the same
//! credential for it:
//!
//! - the same `serde_json` deserializer reads every byte, with the same
//!   checks (syntax, UTF-8, escapes, number range, nesting depth), because
//!   every value, even an unknown member's, is read through
//!   `deserialize_any` or a typed equivalent, never skipped;
//! - a member repeated with the same name keeps its last value, as a map
//!   does;
//! - an integer outside 64 bits reads as a float: any float sends the text
//!   to the general parser, which scans for such integers;
//! - `payload` is read into a map of `Value`s, member by member, as the
//!   general parser reads it; a member name that `serde_json` reserves for
//!   its own use (`$serde_json::private::...`, which changes how a `Value`
//!   reads the object holding it) sends the text to the general parser;
//! - text that is not UTF-8 goes to the general parser, which refuses it;
//!   UTF-8 text is checked once, so its strings are not checked each.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::json_plain::Plain;
use super::json_shape::Nested;

/// The most challenge fields read here; more go to the general parser
/// (a challenge has nine parameters, and duplicates are found pairwise).
const MAX_ECHO_FIELDS: usize = 16;

/// A credential's members, read with borrowed challenge strings.
pub(super) struct FastCredential<'de> {
    echo: Echo<'de>,
    pub(super) payload: Map<String, Value>,
    pub(super) source: Option<String>,
}

impl FastCredential<'_> {
    /// The challenge's string-valued fields, last value per name (as a map
    /// keeps it), `null`s dropped.
    pub(super) fn echo(&self) -> impl Iterator<Item = (&str, &str)> {
        let echo = &self.echo;
        echo.iter()
            .enumerate()
            .filter(|(i, (name, _))| !echo[i + 1..].iter().any(|(later, _)| later == name))
            .filter_map(|(_, (name, value))| Some((&**name, &**value.as_ref()?)))
    }
}

/// Reads `bytes` if it is a credential this pass is sure of (see the
/// module docs); `None` otherwise.
pub(super) fn read(bytes: &[u8]) -> Option<FastCredential<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    read_plain(text).or_else(|| read_typed(text))
}

/// The reading of a credential in plain JSON; `None` for any other text.
fn read_plain(text: &str) -> Option<FastCredential<'_>> {
    let mut plain = Plain::new(text);
    let (mut echo, mut payload, mut source) = (None, None, None);
    plain.object(|name, plain| {
        match name {
            "challenge" => echo = Some(plain_echo(plain)?),
            "payload" => payload = Some(plain_payload(plain)?),
            "source" => source = nullable(plain)?,
            _ => plain.skip_value(1)?,
        }
        Some(())
    })?;
    if !plain.at_end() {
        return None;
    }
    Some(FastCredential {
        echo: echo?,
        payload: payload?,
        source: source.map(str::to_owned),
    })
}

fn plain_echo<'de>(plain: &mut Plain<'de>) -> Option<Echo<'de>> {
    let mut echo = Vec::with_capacity(9);
    plain.object(|name, plain| {
        if echo.len() == MAX_ECHO_FIELDS {
            return None;
        }
        let value = nullable(plain)?.map(Cow::Borrowed);
        echo.push((Cow::Borrowed(name), value));
        Some(())
    })?;
    Some(echo)
}

fn plain_payload(plain: &mut Plain<'_>) -> Option<Map<String, Value>> {
    let mut payload = Map::new();
    plain.object(|name, plain| {
        let value = nullable(plain)?.map_or(Value::Null, |text| Value::String(text.to_owned()));
        payload.insert(name.to_owned(), value);
        Some(())
    })?;
    Some(payload)
}

/// A string or `null` (`Some(None)`); `None` for anything else.
#[allow(
    clippy::option_option,
    reason = "the outer `None` sends the text elsewhere"
)]
fn nullable<'de>(plain: &mut Plain<'de>) -> Option<Option<&'de str>> {
    if plain.null() {
        Some(None)
    } else {
        plain.string().map(Some)
    }
}

/// The typed `serde_json` reading (see the module docs).
fn read_typed(text: &str) -> Option<FastCredential<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de.deserialize_map(TopVisitor).ok()?;
    de.end().ok()?;
    if top.floats {
        return None;
    }
    Some(FastCredential {
        echo: top.echo?,
        payload: top.payload?,
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
    payload: Option<Map<String, Value>>,
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
                    let Payload { members, floats } = map.next_value()?;
                    top.floats |= floats;
                    top.payload = Some(members);
                }
                "source" => top.source = map.next_value_seed(SourceSeed)?,
                _ => {
                    let nested: Nested = map.next_value()?;
                    if nested.reserved {
                        return Err(de::Error::custom("a reserved member name"));
                    }
                    top.floats |= nested.floats;
                }
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

/// `payload`: an object, read into a map as a `Value` reads it (the last
/// value of a repeated name), and whether it holds a float.
struct Payload {
    members: Map<String, Value>,
    floats: bool,
}

impl<'de> de::Deserialize<'de> for Payload {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut payload = Payload {
            members: Map::new(),
            floats: false,
        };
        while let Some(Text(name)) = map.next_key()? {
            reserved(&name)?;
            let value: Value = map.next_value()?;
            payload.floats |= holds_float(&value);
            payload.members.insert(name.into_owned(), value);
        }
        Ok(payload)
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

#[cfg(test)]
#[path = "credential_json_tests.rs"]
mod tests;
