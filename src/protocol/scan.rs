//! Byte searches shared by the header and JSON scanners.
//!
//! Header values and JSON texts are mostly long runs of plain bytes (the
//! base64url of `request` and `opaque`, hex signatures) with a few bytes
//! that matter: `memchr` finds them with the CPU's vector instructions.

/// The offset of the first `"` or `\` in `bytes`: the end of a quoted
/// string's plain run, in a header value or in JSON text.
#[inline]
pub(crate) fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    memchr::memchr2(b'"', b'\\', bytes)
}

/// The offset of the first `"`, `\` or control character (below
/// U+0020) in `bytes`: the end of a JSON string's unescaped run, or a byte
/// a JSON string cannot hold as is.
#[inline]
pub(crate) fn find_json_string_end(bytes: &[u8]) -> Option<usize> {
    // Controls are rare: search for the quote, then check the run before it.
    let end = find_quote_or_backslash(bytes).unwrap_or(bytes.len());
    bytes[..end]
        .iter()
        .position(|&b| b < 0x20)
        .or((end < bytes.len()).then_some(end))
}

/// The offset of the first control character (CR, LF, NUL, DEL, ...) other
/// than horizontal tab: the bytes a header value must not hold.
pub(crate) fn find_control(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
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
