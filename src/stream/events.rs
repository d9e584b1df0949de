//! Server-Sent Events framing of a metered stream's events.

use bytes::Bytes;

/// An SSE comment sent while a stream waits, so that proxies and browsers
/// see traffic on the connection; clients ignore it.
pub(super) const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

/// `event: <name>`, then `data` as one `data:` field per line (any of
/// `\r\n`, `\r`, `\n` breaks a line in SSE, so each starts a new field),
/// then the blank line that ends the event.
pub(super) fn event(name: &str, data: &str) -> Bytes {
    let mut out = String::with_capacity(16 + name.len() + data.len());
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    let mut rest = data;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.push_str("data: ");
        out.push_str(&rest[..end]);
        out.push('\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
    out.push('\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_one_data_field() {
        assert_eq!(event("message", "hello"), "event: message\ndata: hello\n\n");
    }

    #[test]
    fn every_line_break_starts_a_data_field() {
        assert_eq!(
            event("message", "a\nb\r\nc\rd"),
            "event: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(
            event("message", "end\n"),
            "event: message\ndata: end\ndata: \n\n"
        );
        assert_eq!(event("message", ""), "event: message\ndata: \n\n");
    }
}
