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
    let len = decoded_len(text.len()).ok_or_else(|| decode_error(text))?;
    let mut out = vec![0; len];
    if decode_exact(text.as_bytes(), &mut out) {
        Ok(out)
    } else {
        Err(decode_error(text))
    }
}

/// Decodes base64url without padding, strictly, into `out`; returns the
/// length written. The same checks as [`decode`], without allocating;
/// `out` must hold at least the decoded length.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<usize, Base64Error> {
    let len = decoded_len(text.len())
        .filter(|&len| len <= out.len())
        .ok_or_else(|| decode_error(text))?;
    if decode_exact(text.as_bytes(), &mut out[..len]) {
        Ok(len)
    } else {
        Err(decode_error(text))
    }
}

/// Decodes `text` as [`decode`] does and hands the bytes to `read`, from a
/// buffer of `N` bytes on the stack when they fit (most protocol values
/// are short-lived and small), from the heap otherwise.
pub(crate) fn with_decoded<const N: usize, R>(
    text: &str,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<R, Base64Error> {
    let len = decoded_len(text.len()).ok_or_else(|| decode_error(text))?;
    if len > N {
        return decode(text).map(|bytes| read(&bytes));
    }
    let mut buffer = [0; N];
    let bytes = &mut buffer[..len];
    if decode_exact(text.as_bytes(), bytes) {
        Ok(read(bytes))
    } else {
        Err(decode_error(text))
    }
}

/// The length of the bytes `len` characters carry, or `None` for a length
/// no encoding has (one character left over carries less than a byte).
fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        rest => Some(len / 4 * 3 + rest.saturating_sub(1)),
    }
}

/// Decodes `text` into `out`, which holds exactly its decoded length;
/// `false` for anything the strict engine refuses (no padding, the URL-safe
/// alphabet only, zero trailing bits).
fn decode_exact(text: &[u8], out: &mut [u8]) -> bool {
    let len = out.len();
    matches!(URL_SAFE_NO_PAD.decode_slice(text, out), Ok(n) if n == len)
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

    /// The allocating decoder of the `base64` crate.
    fn reference(text: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(text).ok()
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_short_text() {
        const CHARS: [char; 13] = [
            'A', 'B', 'Q', 'g', 'w', '-', '_', '=', '+', '/', ' ', '\u{e9}', '\0',
        ];
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = texts
                .iter()
                .filter(|t| t.chars().count() == texts.last().unwrap().chars().count())
                .flat_map(|t| CHARS.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        let mut decoded = 0;
        for text in &texts {
            let ours = decode(text).ok();
            assert_eq!(ours, reference(text), "{text:?}");
            decoded += usize::from(ours.is_some());
            let mut out = [0; 4];
            assert_eq!(
                decode_into(text, &mut out).ok(),
                ours.as_ref().map(Vec::len),
                "{text:?}"
            );
        }
        assert!(decoded > 1000, "{decoded}");
    }

    #[test]
    fn agrees_with_the_base64_crate_on_long_texts_with_one_change() {
        let data: Vec<u8> = (0..=255).cycle().take(700).collect();
        let mut next = crate::protocol::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..3000 {
            let start = next(64);
            let mut text = encode(&data[start..start + next(600)]).into_bytes();
            if !text.is_empty() {
                let at = next(text.len());
                text[at] = [b'A', b'_', b'=', b'+', b'.', 0x7f, b'8'][next(7)];
            }
            let text = String::from_utf8(text).unwrap();
            assert_eq!(decode(&text).ok(), reference(&text), "{text}");
            let error = decode(&text).err();
            assert_eq!(
                error,
                reference(&text).map_or(Some(decode_error(&text)), |_| None)
            );
        }
    }

    #[test]
    fn decoding_on_the_stack_is_decoding() {
        let data: Vec<u8> = (0..=255).collect();
        for len in [0, 1, 2, 3, 47, 48, 49, 200] {
            let text = encode(&data[..len]);
            let stack = with_decoded::<48, _>(&text, <[u8]>::to_vec);
            assert_eq!(stack, decode(&text), "{len}");
            let mut changed = text.into_bytes();
            if let Some(last) = changed.last_mut() {
                *last = b'=';
            }
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(
                with_decoded::<48, _>(&changed, <[u8]>::to_vec),
                decode(&changed),
                "{len}"
            );
        }
        assert!(with_decoded::<48, _>("a", <[u8]>::len).is_err());
    }

    #[test]
    fn decoding_into_a_slice_needs_room_for_the_bytes_only() {
        let mut out = [0; 32];
        let id = encode([7; 32]);
        assert_eq!(decode_into(&id, &mut out), Ok(32));
        assert_eq!(out, [7; 32]);
        assert!(decode_into(&id, &mut out[..31]).is_err());
        assert_eq!(decode_into("", &mut []), Ok(0));
    }

    #[test]
    fn text_must_be_utf8() {
        assert_eq!(decode_text(&encode("héllo")).unwrap(), "héllo");
        let err = decode_text(&encode([0xff, 0xfe])).unwrap_err();
        assert_eq!(err.kind, Base64ErrorKind::InvalidUtf8);
    }
}
