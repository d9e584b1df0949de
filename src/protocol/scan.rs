//! Byte searches shared by the header and JSON scanners.
//!
//! Header values and JSON texts are mostly long runs of plain bytes (the
//! base64url of `request` and `opaque`, hex signatures) with a few bytes
//! that matter, and many short names and values between them. A search
//! tests 16 bytes at a time in a loop without early exit or branches (`|`
//! and `&`, not `||` and `&&`), which the compiler vectorizes; in the chunk
//! that holds a match, the same test on the chunk as one `u128`, byte by
//! byte without carries between bytes, gives the offset at once.

/// The bytes tested together.
const CHUNK: usize = 16;

/// What a search looks for, tested on one byte and on a chunk at once.
trait Class {
    /// 1 when `b` is looked for, 0 otherwise (a number, not a `bool`, so
    /// that tests combine without branches).
    fn byte(b: u8) -> u8;
    /// Bit 7 of each byte of the chunk that is looked for, no other bit.
    fn chunk(chunk: u128) -> u128;
}

/// `b` in every byte.
const fn splat(b: u8) -> u128 {
    u128::from_ne_bytes([b; CHUNK])
}

/// Bit 7 of each byte of `x` below `n` (at most 0x80). Exact per byte: a
/// byte's low seven bits plus at most 0x80 carry into its own bit 7 only.
fn below(x: u128, n: u8) -> u128 {
    !(((x & splat(0x7f)) + splat(0x80 - n)) | x) & splat(0x80)
}

/// Bit 7 of each byte of `x` equal to `b`.
fn equal(x: u128, b: u8) -> u128 {
    below(x ^ splat(b), 1)
}

/// The offset of the first byte of `bytes` of class `C`.
#[inline]
fn find<C: Class>(bytes: &[u8]) -> Option<usize> {
    let (chunks, rest) = bytes.as_chunks::<CHUNK>();
    let first = |found: u128| found.trailing_zeros() as usize / 8;
    // Most runs are short names and values: the first chunk is tested
    // whole at once, without setting up the loop.
    if let Some(chunk) = chunks.first() {
        let found = C::chunk(u128::from_le_bytes(*chunk));
        if found != 0 {
            return Some(first(found));
        }
    }
    for (i, chunk) in chunks.iter().enumerate().skip(1) {
        let any = chunk.iter().fold(0, |any, &b| any | C::byte(b));
        if any != 0 {
            return Some(i * CHUNK + first(C::chunk(u128::from_le_bytes(*chunk))));
        }
    }
    // The last bytes, padded with one that no search looks for.
    let mut last = [b'a'; CHUNK];
    last[..rest.len()].copy_from_slice(rest);
    let found = C::chunk(u128::from_le_bytes(last));
    (found != 0).then(|| chunks.len() * CHUNK + first(found))
}

/// `"` and `\`.
struct QuoteOrBackslash;

impl Class for QuoteOrBackslash {
    fn byte(b: u8) -> u8 {
        u8::from(b == b'"') | u8::from(b == b'\\')
    }

    fn chunk(chunk: u128) -> u128 {
        equal(chunk, b'"') | equal(chunk, b'\\')
    }
}

/// `"`, `\` and controls below U+0020.
struct JsonStringEnd;

impl Class for JsonStringEnd {
    fn byte(b: u8) -> u8 {
        u8::from(b == b'"') | u8::from(b == b'\\') | u8::from(b < 0x20)
    }

    fn chunk(chunk: u128) -> u128 {
        equal(chunk, b'"') | equal(chunk, b'\\') | below(chunk, 0x20)
    }
}

/// Controls other than horizontal tab, and DEL.
struct Control;

impl Class for Control {
    fn byte(b: u8) -> u8 {
        (u8::from(b < 0x20) & u8::from(b != b'\t')) | u8::from(b == 0x7f)
    }

    fn chunk(chunk: u128) -> u128 {
        (below(chunk, 0x20) & !equal(chunk, b'\t')) | equal(chunk, 0x7f)
    }
}

/// The offset of the first `"` or `\` in `bytes`: the end of a quoted
/// string's plain run, in a header value or in JSON text.
#[inline]
pub(crate) fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    find::<QuoteOrBackslash>(bytes)
}

/// The offset of the first `"`, `\` or control character (below
/// U+0020) in `bytes`: the end of a JSON string's unescaped run, or a byte
/// a JSON string cannot hold as is.
#[inline]
pub(crate) fn find_json_string_end(bytes: &[u8]) -> Option<usize> {
    find::<JsonStringEnd>(bytes)
}

/// The offset of the first control character (CR, LF, NUL, DEL, ...) other
/// than horizontal tab: the bytes a header value must not hold.
pub(crate) fn find_control(bytes: &[u8]) -> Option<usize> {
    find::<Control>(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_match_at_every_offset() {
        for len in 0..70 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                let expected = (at < len).then_some(at);
                for (special, search) in [
                    (b'"', find_quote_or_backslash as fn(&[u8]) -> Option<usize>),
                    (b'\\', find_quote_or_backslash),
                    (b'"', find_json_string_end),
                    (b'\\', find_json_string_end),
                    (b'\n', find_json_string_end),
                    (0x1f, find_json_string_end),
                    (b'\r', find_control),
                    (0x7f, find_control),
                    (0, find_control),
                ] {
                    if let Some(at) = expected {
                        bytes[at] = special;
                        // A later match never hides the first one.
                        if at + 3 < len {
                            bytes[at + 3] = special;
                        }
                    }
                    assert_eq!(search(&bytes), expected, "{len} {at} {special}");
                    bytes.fill(b'a');
                }
            }
        }
    }

    /// Each class's chunk test marks exactly the bytes its byte test
    /// takes, for every byte value at every offset, next to any other.
    #[test]
    fn the_chunk_tests_are_the_byte_tests() {
        fn check<C: Class>() {
            for b in 0..=u8::MAX {
                for other in [0, b'\t', b'"', b'a', 0x7f, 0x80, 0xff] {
                    for at in 0..CHUNK {
                        let mut chunk = [other; CHUNK];
                        chunk[at] = b;
                        let expected = chunk
                            .iter()
                            .enumerate()
                            .filter(|&(_, &b)| C::byte(b) == 1)
                            .fold(0u128, |bits, (i, _)| bits | 0x80 << (8 * i));
                        assert_eq!(C::chunk(u128::from_le_bytes(chunk)), expected);
                    }
                }
            }
        }
        check::<QuoteOrBackslash>();
        check::<JsonStringEnd>();
        check::<Control>();
    }

    #[test]
    fn tabs_and_non_ascii_are_not_special() {
        let text = "\tcaf\u{e9} \u{1F600} ~ 'quoted' / slash".repeat(5);
        assert_eq!(find_control(text.as_bytes()), None);
        assert_eq!(find_quote_or_backslash(text.as_bytes()), None);
        assert_eq!(find_json_string_end(text.as_bytes()), Some(0));
        let json = "caf\u{e9} \u{1F600} ~ 'quoted' / slash \u{7f}".repeat(5);
        assert_eq!(find_json_string_end(json.as_bytes()), None);
        assert_eq!(find_control(b"\x1f"), Some(0));
        assert_eq!(find_control(b"\x80\xff"), None);
    }
}
