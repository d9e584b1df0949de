//! base64url without padding (RFC 4648, section 5), strict on decode.
//!
//! Every encoded value of the protocol (`request`, `opaque`, credentials,
//! receipts, challenge ids) uses this alphabet with no `=` padding. Decoding
//! refuses padding, characters outside the URL-safe alphabet, and encodings
//! whose unused trailing bits are not zero, so that one byte string has one
//! wire form.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as base64url without padding.
///
/// ```
/// assert_eq!(tower_mpp::protocol::base64url::encode(b"\xfb\xff"), "-_8");
/// ```
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Encodes bytes as base64url without padding into `out`, which must hold
/// exactly the encoded length.
pub(crate) fn encode_to_slice(bytes: impl AsRef<[u8]>, out: &mut [u8]) {
    let written = URL_SAFE_NO_PAD
        .encode_slice(bytes, out)
        .expect("the caller sizes the output");
    assert_eq!(written, out.len(), "the caller sizes the output exactly");
}

/// Decodes base64url without padding, strictly.
///
/// # Errors
///
/// [`Base64Error`] when the input holds a character outside `A-Z a-z 0-9 - _`,
/// carries `=` padding, has an impossible length, or has non-zero trailing
/// bits.
///
/// ```
/// use tower_mpp::protocol::base64url;
/// assert_eq!(base64url::decode("-_8").unwrap(), b"\xfb\xff");
/// assert!(base64url::decode("+/8").is_err()); // standard alphabet
/// assert!(base64url::decode("-_8=").is_err()); // padding
/// ```
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    // The engine refuses padding and every byte outside the alphabet; the
    // text is scanned again only to say where the first such byte is.
    URL_SAFE_NO_PAD.decode(text).map_err(|_| decode_error(text))
}

/// Decodes base64url without padding, strictly, into `out`; returns the
/// length written. The same checks as [`decode`], without allocating.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<usize, Base64Error> {
    URL_SAFE_NO_PAD
        .decode_slice(text, out)
        .map_err(|_| decode_error(text))
}

fn decode_error(text: &str) -> Base64Error {
    let kind = match text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        Some(position) => Base64ErrorKind::InvalidCharacter { position },
        None => Base64ErrorKind::InvalidLength,
    };
    Base64Error { kind }
}

/// Decodes base64url text that must carry UTF-8 text.
///
/// # Errors
///
/// [`Base64Error`] for anything [`decode`] refuses, and when the bytes are not
/// valid UTF-8.
pub fn decode_text(text: &str) -> Result<String, Base64Error> {
    String::from_utf8(decode(text)?).map_err(|_| Base64Error {
        kind: Base64ErrorKind::InvalidUtf8,
    })
}

/// A base64url value that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error {
    kind: Base64ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Base64ErrorKind {
    InvalidCharacter { position: usize },
    InvalidLength,
    InvalidUtf8,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Base64ErrorKind::InvalidCharacter { position } => write!(
                f,
                "invalid base64url: character at offset {position} is outside the URL-safe alphabet (padding is not allowed)"
            ),
            Base64ErrorKind::InvalidLength => {
                f.write_str("invalid base64url: impossible length or non-zero trailing bits")
            }
            Base64ErrorKind::InvalidUtf8 => f.write_str("base64url value is not valid UTF-8 text"),
        }
    }
}

impl std::error::Error for Base64Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..data.len() {
            let encoded = encode(&data[..len]);
            assert!(!encoded.contains('='));
            assert_eq!(decode(&encoded).unwrap(), &data[..len]);
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        assert!(decode("ab+c").is_err());
        assert!(decode("ab/c").is_err());
        assert!(decode("YQ==").is_err());
        assert!(decode("YQ=").is_err());
        assert!(decode("a").is_err(), "one leftover character is impossible");
        assert!(decode("YR").is_err(), "non-zero trailing bits");
        assert!(decode("Y Q").is_err());
        assert!(decode("YQ\n").is_err());
        assert_eq!(decode("YQ").unwrap(), b"a");
    }

    #[test]
    fn text_must_be_utf8() {
        assert_eq!(decode_text(&encode("héllo")).unwrap(), "héllo");
        let err = decode_text(&encode([0xff, 0xfe])).unwrap_err();
        assert_eq!(err.kind, Base64ErrorKind::InvalidUtf8);
    }
}
