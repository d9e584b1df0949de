//! The RFC 9110 authentication grammar: challenge lists and auth-params.
//!
//! `WWW-Authenticate` carries a comma-separated list of challenges, each a
//! scheme followed by either a `token68` or comma-separated `name=value`
//! auth-params. Commas separate both challenges and parameters, so the parser
//! decides at each comma whether the next item is a parameter (`token =`) or
//! the scheme of a new challenge. Quoted strings may contain commas, escaped
//! quotes and the word `Payment` without ending anything.
//!
//! A quoted string that is never closed (`foo="abc` at the end of the
//! header) is a [`SyntaxError`], although the deployed SDKs drop that one
//! parameter and keep the challenge: RFC 9110 (section 5.6.4) has no
//! quoted string without its closing quote, and once one is open nothing
//! tells where it was meant to end, so the parameters after it may be
//! inside it. A challenge read by a guess must not be paid; a truncated
//! header is refused whole.

use std::borrow::Cow;
use std::fmt;

use super::scan;

/// One challenge of any scheme, as written in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawChallenge<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) token68: Option<&'a str>,
    pub(crate) params: Vec<(&'a str, Cow<'a, str>)>,
}

/// A header value that does not follow the RFC 9110 challenge grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    position: usize,
    kind: SyntaxErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyntaxErrorKind {
    ControlCharacter,
    ExpectedToken,
    ExpectedEquals,
    ExpectedValue,
    ExpectedComma,
    UnterminatedQuotedString,
}

impl SyntaxError {
    /// The byte offset in the header value where parsing stopped.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            SyntaxErrorKind::ControlCharacter => "control character (CR, LF, ...) in header value",
            SyntaxErrorKind::ExpectedToken => "expected a token",
            SyntaxErrorKind::ExpectedEquals => "expected `=` after a parameter name",
            SyntaxErrorKind::ExpectedValue => "expected a token or quoted-string value",
            SyntaxErrorKind::ExpectedComma => "expected `,` between parameters",
            SyntaxErrorKind::UnterminatedQuotedString => "unterminated quoted-string",
        };
        write!(f, "{what} at offset {}", self.position)
    }
}

impl std::error::Error for SyntaxError {}

/// The bytes of `tchar` (RFC 9110, section 5.6.2) and of `token68`
/// (section 11.2), by value: tokens are scanned one lookup per byte.
const CLASSES: [u8; 256] = {
    let mut classes = [0; 256];
    let mut b: u8 = 0;
    loop {
        let alphanumeric = b.is_ascii_alphanumeric();
        if alphanumeric
            || matches!(
                b,
                b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
        {
            classes[b as usize] |= TCHAR;
        }
        if alphanumeric || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/') {
            classes[b as usize] |= TOKEN68;
        }
        if b == u8::MAX {
            break classes;
        }
        b += 1;
    }
};
const TCHAR: u8 = 1;
const TOKEN68: u8 = 2;

pub(crate) fn is_tchar(b: u8) -> bool {
    CLASSES[usize::from(b)] & TCHAR != 0
}

fn is_token68_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & TOKEN68 != 0
}

/// Parses a whole `WWW-Authenticate` (or `Authorization`) field value.
pub(crate) fn parse_challenges(input: &str) -> Result<Vec<RawChallenge<'_>>, SyntaxError> {
    if let Some(position) = scan::find_control(input.as_bytes()) {
        return Err(SyntaxError {
            position,
            kind: SyntaxErrorKind::ControlCharacter,
        });
    }
    let mut parser = Parser { input, pos: 0 };
    let mut challenges = Vec::new();
    loop {
        parser.skip_list_separators();
        if parser.at_end() {
            return Ok(challenges);
        }
        challenges.push(parser.challenge()?);
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn error(&self, kind: SyntaxErrorKind) -> SyntaxError {
        SyntaxError {
            position: self.pos,
            kind,
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn scan(&self, from: usize, pred: fn(u8) -> bool) -> usize {
        let bytes = self.input.as_bytes();
        let mut end = from;
        while end < bytes.len() && pred(bytes[end]) {
            end += 1;
        }
        end
    }

    fn token(&mut self) -> Result<&'a str, SyntaxError> {
        let end = self.scan(self.pos, is_tchar);
        if end == self.pos {
            return Err(self.error(SyntaxErrorKind::ExpectedToken));
        }
        let token = &self.input[self.pos..end];
        self.pos = end;
        Ok(token)
    }

    fn challenge(&mut self) -> Result<RawChallenge<'a>, SyntaxError> {
        let scheme = self.token()?;
        let mut challenge = RawChallenge {
            scheme,
            token68: None,
            // A `Payment` challenge has at most nine known parameters.
            params: Vec::with_capacity(9),
        };
        let before_space = self.pos;
        self.skip_ows();
        if self.at_end() || self.peek() == Some(b',') {
            return Ok(challenge);
        }
        if self.pos == before_space {
            return Err(self.error(SyntaxErrorKind::ExpectedComma));
        }
        if let Some(token68) = self.token68() {
            challenge.token68 = Some(token68);
            return Ok(challenge);
        }
        loop {
            let name = self.token()?;
            self.skip_ows();
            if self.peek() != Some(b'=') {
                return Err(self.error(SyntaxErrorKind::ExpectedEquals));
            }
            self.pos += 1;
            self.skip_ows();
            let quoted = self.peek() == Some(b'"');
            let value = if quoted {
                self.quoted_string()?
            } else {
                Cow::Borrowed(self.token().map_err(|mut e| {
                    e.kind = SyntaxErrorKind::ExpectedValue;
                    e
                })?)
            };
            challenge.params.push((name, value));
            self.skip_ows();
            match self.peek() {
                None => return Ok(challenge),
                Some(b',') => {}
                // An unescaped `"` inside a quoted value ends it early; the
                // deployed SDKs keep the text up to there and drop the rest
                // of the item, and so do we (only after a quoted value).
                Some(_) if quoted => {
                    self.skip_rest_of_item();
                    if self.at_end() {
                        return Ok(challenge);
                    }
                }
                Some(_) => return Err(self.error(SyntaxErrorKind::ExpectedComma)),
            }
            let comma = self.pos;
            self.skip_list_separators();
            if self.at_end() || !self.starts_param() {
                self.pos = comma;
                return Ok(challenge);
            }
        }
    }

    /// Advances to the next comma outside a quoted string, or to the end.
    fn skip_rest_of_item(&mut self) {
        let bytes = self.input.as_bytes();
        let mut in_quotes = false;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b',' if !in_quotes => return,
                b'"' => in_quotes = !in_quotes,
                b'\\' if in_quotes => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(bytes.len());
    }

    /// Whether the input at the cursor is `token BWS "="`, i.e. another
    /// parameter of the current challenge rather than a new scheme.
    fn starts_param(&self) -> bool {
        let end = self.scan(self.pos, is_tchar);
        if end == self.pos {
            return false;
        }
        let after = self.scan(end, |b| b == b' ' || b == b'\t');
        self.input.as_bytes().get(after) == Some(&b'=')
    }

    /// A `token68` credential form: `1*tchar68 *"="` followed by the end of
    /// the challenge. Returns `None` (cursor untouched) for auth-params.
    fn token68(&mut self) -> Option<&'a str> {
        let body_end = self.scan(self.pos, is_token68_char);
        if body_end == self.pos {
            return None;
        }
        let end = self.scan(body_end, |b| b == b'=');
        let after = self.scan(end, |b| b == b' ' || b == b'\t');
        match self.input.as_bytes().get(after) {
            None | Some(b',') => {
                let token = &self.input[self.pos..end];
                self.pos = after;
                Some(token)
            }
            _ => None,
        }
    }

    /// A quoted-string at the cursor, unescaped: borrowed from the input
    /// unless it holds a `\` escape. The text between escapes is found by
    /// byte search (`"` and `\` are ASCII, so they never occur inside a
    /// multi-byte character); an escape takes the whole character after it.
    fn quoted_string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        let start = self.pos;
        let bytes = self.input.as_bytes();
        let mut owned: Option<String> = None;
        // The start of the text not yet copied into `owned`, first after
        // the opening quote.
        let mut from = start + 1;
        while let Some(offset) = scan::find_quote_or_backslash(&bytes[from..]) {
            let at = from + offset;
            let plain = &self.input[from..at];
            if bytes[at] == b'"' {
                self.pos = at + 1;
                return Ok(match owned {
                    None => Cow::Borrowed(plain),
                    Some(mut text) => {
                        text.push_str(plain);
                        Cow::Owned(text)
                    }
                });
            }
            let Some(escaped) = self.input[at + 1..].chars().next() else {
                break;
            };
            let text = owned.get_or_insert_with(String::new);
            text.push_str(plain);
            text.push(escaped);
            from = at + 1 + escaped.len_utf8();
        }
        self.pos = start;
        Err(self.error(SyntaxErrorKind::UnterminatedQuotedString))
    }
}

/// Appends `value` as an RFC 9110 quoted-string.
///
/// Returns `false` (and leaves `out` partially written) if the value holds a
/// character that a header cannot carry reliably: a control character or
/// anything outside ASCII.
pub(crate) fn push_quoted(out: &mut String, value: &str) -> bool {
    out.push('"');
    // Most values need no escape: one pass without early exit (which the
    // compiler vectorizes) finds them.
    let special = value.bytes().fold(0u8, |special, b| {
        special
            | u8::from(b != b'\t' && !(b' '..=b'~').contains(&b))
            | u8::from(b == b'"')
            | u8::from(b == b'\\')
    });
    if special == 0 {
        out.push_str(value);
        out.push('"');
        return true;
    }
    let mut rest = value;
    while let Some(i) = rest
        .bytes()
        .position(|b| !matches!(b, b'\t' | b' '..=b'~') || b == b'"' || b == b'\\')
    {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            quote @ (b'"' | b'\\') => {
                out.push('\\');
                out.push(char::from(quote));
            }
            _ => return false,
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
    true
}

#[cfg(test)]
#[path = "auth_param_tests.rs"]
mod tests;
