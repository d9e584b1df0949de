//! The RFC 9110 authentication grammar: challenge lists and auth-params.
//!
//! `WWW-Authenticate` carries a comma-separated list of challenges, each a
//! scheme followed by either a `token68` or comma-separated `name=value`
//! auth-params. Commas separate both challenges and parameters, so the parser
//! decides at each comma whether the next item is a parameter (`token =`) or
//! the scheme of a new challenge. Quoted strings may contain commas, escaped
//! quotes and the word `Payment` without ending anything.

use std::borrow::Cow;
use std::fmt;

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

pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// Parses a whole `WWW-Authenticate` (or `Authorization`) field value.
pub(crate) fn parse_challenges(input: &str) -> Result<Vec<RawChallenge<'_>>, SyntaxError> {
    if let Some(position) = input
        .bytes()
        .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
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
            params: Vec::new(),
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

    fn quoted_string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let content_start = self.pos;
        let mut owned: Option<String> = None;
        let mut chars = self.input[self.pos..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    let end = content_start + offset;
                    self.pos = end + 1;
                    return Ok(match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.input[content_start..end]),
                    });
                }
                '\\' => {
                    let s = owned.get_or_insert_with(|| {
                        self.input[content_start..content_start + offset].to_owned()
                    });
                    match chars.next() {
                        Some((_, escaped)) => s.push(escaped),
                        None => break,
                    }
                }
                c => {
                    if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                }
            }
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
mod tests {
    use super::*;

    fn params<'a>(c: &'a RawChallenge<'a>) -> Vec<(&'a str, &'a str)> {
        c.params.iter().map(|(k, v)| (*k, v.as_ref())).collect()
    }

    #[test]
    fn splits_challenges_and_params() {
        let parsed = parse_challenges(
            r#"Bearer realm="x", Payment id="a, Payment b=\"c\"", method=tempo ,Basic   , Negotiate abc+/== , Digest nonce="n""#,
        )
        .unwrap();
        let schemes: Vec<_> = parsed.iter().map(|c| c.scheme).collect();
        assert_eq!(
            schemes,
            ["Bearer", "Payment", "Basic", "Negotiate", "Digest"]
        );
        assert_eq!(params(&parsed[0]), [("realm", "x")]);
        assert_eq!(
            params(&parsed[1]),
            [("id", r#"a, Payment b="c""#), ("method", "tempo")]
        );
        assert!(parsed[2].params.is_empty());
        assert_eq!(parsed[3].token68, Some("abc+/=="));
        assert_eq!(params(&parsed[4]), [("nonce", "n")]);
    }

    #[test]
    fn tolerates_bad_whitespace_and_empty_list_items() {
        let parsed = parse_challenges(",, Payment  id = \"a\" ,, realm=r\t, ").unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(params(&parsed[0]), [("id", "a"), ("realm", "r")]);
    }

    #[test]
    fn rejects_broken_syntax() {
        for bad in [
            "Payment id=\"a",
            "Payment id=\"a\"\r\n, x=y",
            "Payment id=\"a\"\n",
            "Payment=x",
            "Payment id=a b",
            "Payment id=\"a\\",
            "Pay\u{e9} id=a",
        ] {
            assert!(parse_challenges(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn drops_the_tail_of_a_value_cut_short_by_an_unescaped_quote() {
        let parsed = parse_challenges(
            "Payment id=\"a\", description=\"Pay for \"Premium\" service, \u{2014} 50% off!\", realm=\"r\"",
        )
        .unwrap();
        assert_eq!(
            params(&parsed[0]),
            [("id", "a"), ("description", "Pay for "), ("realm", "r")]
        );
        let parsed = parse_challenges("Payment id=\"a\" realm=\"b\"").unwrap();
        assert_eq!(params(&parsed[0]), [("id", "a")]);
    }

    #[test]
    fn quoting_escapes_and_refuses_what_it_cannot_carry() {
        let mut out = String::new();
        assert!(push_quoted(&mut out, r#"say "hi" \ bye"#));
        assert_eq!(out, r#""say \"hi\" \\ bye""#);
        assert!(!push_quoted(&mut String::new(), "line\nbreak"));
        assert!(!push_quoted(&mut String::new(), "caf\u{e9}"));
        assert!(!push_quoted(&mut String::new(), "\u{7f}"));
    }
}
