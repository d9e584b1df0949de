//! One pass over JSON text that checks it as `serde_json` checks it when it
//! reads a `Value`, without building anything: what [`Base64Json`] needs
//! to accept a `request` or `opaque` object and decode it later.
//!
//! The same `serde_json` deserializer reads every byte through
//! `deserialize_any`, as a `Value` is read, so the same texts fail (syntax,
//! UTF-8, escapes, number range, nesting depth, trailing characters). What
//! the pass records instead of the tree:
//!
//! - the type of the top-level value, worded as [`JsonError`] words it;
//! - whether every member value of the top-level object, repeated names
//!   included, is a string: then the object maps strings to strings;
//! - whether a number read as a float: an integer literal too wide for
//!   64 bits reads as one, so without a float there is none to look for;
//! - whether a member name is one `serde_json` reserves for its own use
//!   (`$serde_json::private::...`), which changes what a `Value` reads:
//!   the caller then reads the text as a `Value`.
//!
//! The usual `opaque`, an object of plain strings, is recognized first by
//! the [plain reader](super::json_plain), which accepts only JSON that
//! `serde_json` reads alike, at a byte search per string.
//!
//! [`Base64Json`]: super::Base64Json
//! [`JsonError`]: super::JsonError

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};

use super::json_plain::Plain;

/// What [`read`] found in a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// The type of the top-level value when it is not an object.
    pub(super) not_object: Option<&'static str>,
    /// Every member value of the top-level object is a string.
    pub(super) flat: bool,
    /// Some number (at any depth) read as a float.
    pub(super) floats: bool,
    /// Some member name (at any depth) is reserved by `serde_json`.
    pub(super) reserved: bool,
}

/// Reads `json` in full; fails exactly where reading a `Value` fails.
pub(super) fn read(json: &[u8]) -> Result<Shape, serde_json::Error> {
    // UTF-8 checked once for the whole text rather than string by string
    // (`from_str` trusts it, and so does the plain reader); text that is
    // not UTF-8 is read as bytes, for the same error as a `Value` gets.
    match std::str::from_utf8(json) {
        // The usual `opaque`: read at a byte search per string.
        Ok(text) if Plain::new(text).string_map().is_some() => Ok(Shape {
            not_object: None,
            flat: true,
            floats: false,
            reserved: false,
        }),
        Ok(text) => read_from(serde_json::Deserializer::from_str(text)),
        Err(_) => read_from(serde_json::Deserializer::from_slice(json)),
    }
}

fn read_from<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Result<Shape, serde_json::Error> {
    let shape = de.deserialize_any(TopVisitor)?;
    de.end()?;
    Ok(shape)
}

/// A value below the top level, read in full and dropped: whether it
/// holds a float and a member name `serde_json` reserves (also how the
/// credential reader checks members it does not know).
#[derive(Default, Clone, Copy)]
pub(super) struct Nested {
    pub(super) floats: bool,
    pub(super) reserved: bool,
}

impl Nested {
    fn add(&mut self, other: Self) {
        self.floats |= other.floats;
        self.reserved |= other.reserved;
    }
}

struct TopVisitor;

impl TopVisitor {
    fn scalar(found: &'static str, floats: bool) -> Shape {
        Shape {
            not_object: Some(found),
            flat: false,
            floats,
            reserved: false,
        }
    }
}

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Self::scalar("null", false))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Self::scalar("a boolean", false))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Self::scalar("a number", false))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Self::scalar("a number", false))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Self::scalar("a number", true))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Self::scalar("a string", false))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape, A::Error> {
        let nested = NestedVisitor.visit_seq(seq)?;
        Ok(Shape {
            reserved: nested.reserved,
            ..Self::scalar("an array", nested.floats)
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut shape = Shape {
            not_object: None,
            flat: true,
            floats: false,
            reserved: false,
        };
        while let Some(Key { reserved }) = map.next_key()? {
            shape.reserved |= reserved;
            let member = map.next_value::<Member>()?;
            shape.flat &= member.string;
            shape.floats |= member.nested.floats;
            shape.reserved |= member.nested.reserved;
        }
        Ok(shape)
    }
}

/// A member name, read as a `Value` reads it (a string, escapes decoded).
struct Key {
    reserved: bool,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(Key {
            reserved: name.starts_with("$serde_json::private::"),
        })
    }
}

/// A member value of the top-level object: whether it is a string.
struct Member {
    string: bool,
    nested: Nested,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl MemberVisitor {
    fn other(nested: Nested) -> Member {
        Member {
            string: false,
            nested,
        }
    }
}

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Member, E> {
        Ok(Member {
            string: true,
            nested: Nested::default(),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Member, E> {
        Ok(Self::other(Nested::default()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Member, E> {
        Ok(Self::other(Nested::default()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Member, E> {
        Ok(Self::other(Nested::default()))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Member, E> {
        Ok(Self::other(Nested::default()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member, E> {
        NestedVisitor.visit_f64(v).map(Self::other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member, A::Error> {
        NestedVisitor.visit_seq(seq).map(Self::other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member, A::Error> {
        NestedVisitor.visit_map(map).map(Self::other)
    }
}

impl<'de> Deserialize<'de> for Nested {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NestedVisitor)
    }
}

/// Any value, read in full and dropped.
struct NestedVisitor;

impl<'de> Visitor<'de> for NestedVisitor {
    type Value = Nested;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Nested, E> {
        Ok(Nested::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Nested, E> {
        Ok(Nested::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Nested, E> {
        Ok(Nested::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Nested, E> {
        Ok(Nested::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Nested, E> {
        Ok(Nested {
            floats: true,
            reserved: false,
        })
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Nested, E> {
        Ok(Nested::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nested, A::Error> {
        let mut nested = Nested::default();
        while let Some(item) = seq.next_element::<Nested>()? {
            nested.add(item);
        }
        Ok(nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Nested, A::Error> {
        let mut nested = Nested::default();
        while let Some(Key { reserved }) = map.next_key()? {
            nested.reserved |= reserved;
            nested.add(map.next_value::<Nested>()?);
        }
        Ok(nested)
    }
}

#[cfg(test)]
#[path = "json_shape_tests.rs"]
mod tests;
