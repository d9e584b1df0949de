//! A reader for the plain JSON the protocol usually carries: objects whose
//! values are strings without escapes, `null`s and such objects again.
//!
//! Credentials, `opaque` and most payloads are nothing else, and reading
//! them this way costs a byte search per string instead of `serde_json`'s
//! work per token. The reader accepts a strict subset of JSON (RFC 8259)
//! and refuses (`None`) everything else, valid or not, for the caller to
//! read with `serde_json`:
//!
//! - whitespace is the four JSON whitespace bytes, between any tokens;
//! - a string is `"`, characters other than `"`, `\` and controls below
//!   U+0020, then `"`; the text is `str` (UTF-8 checked by the caller), so
//!   a string is its own value and a name its own key;
//! - no numbers (so no float or wide integer), arrays, booleans or escapes;
//! - no member name `serde_json` reserves for its own use
//!   (`$serde_json::private::...`, which changes how a `Value` reads the
//!   object holding it);
//! - nothing after the top-level value but whitespace.
//!
//! Within that subset, the result is what a `Value` holds: a repeated name
//! keeps its last value (the callers keep it so).

/// A cursor over the text of one plain JSON value.
pub(super) struct Plain<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Plain<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte` if it comes next (after whitespace).
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.pos += usize::from(next);
        next
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string without escapes.
    pub(super) fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let len = super::scan::find_json_string_end(&self.text.as_bytes()[start..])?;
        // The run ends at an ASCII byte: a character boundary.
        let end = start + len;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        Some(&self.text[start..end])
    }

    /// Consumes `null` if it comes next.
    pub(super) fn null(&mut self) -> bool {
        let null = self.peek() == Some(b'n') && self.text[self.pos..].starts_with("null");
        self.pos += if null { 4 } else { 0 };
        null
    }

    /// An object: `member` reads the value of each member, in order.
    pub(super) fn object(
        &mut self,
        mut member: impl FnMut(&'a str, &mut Self) -> Option<()>,
    ) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let name = self.string()?;
            if name.starts_with("$serde_json::private::") || !self.eat(b':') {
                return None;
            }
            member(name, self)?;
            if !self.eat(b',') {
                return self.eat(b'}').then_some(());
            }
        }
    }

    /// Any plain value (string, `null`, object of plain values), read and
    /// dropped. Objects nest no deeper than `depth`.
    pub(super) fn skip_value(&mut self, depth: usize) -> Option<()> {
        if self.peek() == Some(b'{') {
            let inner = depth.checked_sub(1)?;
            self.object(|_, plain| plain.skip_value(inner))
        } else if self.null() {
            Some(())
        } else {
            self.string().map(drop)
        }
    }

    /// An object of strings, the shape `opaque` must have: `Some` when the
    /// whole text is one.
    pub(super) fn string_map(mut self) -> Option<()> {
        self.object(|_, plain| plain.string().map(drop))?;
        self.at_end().then_some(())
    }
}

#[cfg(test)]
#[path = "json_plain_tests.rs"]
mod tests;
