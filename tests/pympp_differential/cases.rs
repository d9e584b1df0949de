//! Deterministic generation of the values both sides check.

#[allow(clippy::wildcard_imports)]
use super::*;
// Deterministic generation
// ---------------------------------------------------------------------------

/// xorshift64*: small, seeded, and the same on every platform.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).expect("usize fits in u64");
        usize::try_from(self.next() % n).expect("below n")
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(crate) fn string_of(&mut self, alphabet: &[u8], lo: usize, hi: usize) -> String {
        (0..self.range(lo, hi))
            .map(|_| char::from(*self.pick(alphabet)))
            .collect()
    }
}

pub(crate) const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub(crate) const INTENT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
pub(crate) const B64URL: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Printable ASCII with extra weight on what quoting must get right.
///
/// Header parameters are ASCII only: we refuse to format anything else, and
/// pympp writes characters above U+00FF as `\uXXXX` escapes inside the
/// quoted-string, which RFC 9110 reads as the letter `u` and four digits.
pub(crate) fn header_text(rng: &mut Rng, lo: usize, hi: usize) -> String {
    pub(crate) const TRICKY: &[&str] = &[
        "\"",
        "\\",
        ",",
        ", ",
        "=",
        "Payment",
        " Payment ",
        "Payment id=\"x\"",
        "\\\"",
        "\\u0041",
        "\t",
        " ",
    ];
    let len = rng.range(lo, hi);
    let mut out = String::new();
    while out.chars().count() < len {
        if rng.chance(15) {
            let fragment = TRICKY[rng.below(TRICKY.len())];
            out.push_str(fragment);
        } else {
            out.push(char::from(
                u8::try_from(rng.range(0x20, 0x7e)).expect("ASCII"),
            ));
        }
    }
    out
}

/// Any Unicode text (no lone surrogates: neither side can hold them),
/// including control characters and astral-plane characters whose UTF-16
/// order differs from their code-point order.
pub(crate) fn unicode_text(rng: &mut Rng, lo: usize, hi: usize) -> String {
    pub(crate) const SAMPLES: &[char] = &[
        'é',
        'ß',
        '☕',
        '日',
        '本',
        '\u{2028}',
        '\u{e000}',
        '\u{feff}',
        '\u{fffd}',
        '😀',
        '𝄞',
        '\u{10ffff}',
        '\0',
        '\n',
        '\u{1f}',
        '\u{7f}',
        '"',
        '\\',
        '/',
        '<',
        '&',
    ];
    (0..rng.range(lo, hi))
        .map(|_| match rng.below(10) {
            0..=4 => char::from(u8::try_from(rng.range(0x20, 0x7e)).expect("ASCII")),
            5 | 6 => *rng.pick(SAMPLES),
            7 => char::from_u32(u32::try_from(rng.range(0xa0, 0xd7ff)).expect("BMP"))
                .expect("below the surrogates"),
            8 => char::from_u32(u32::try_from(rng.range(0xe000, 0xfffd)).expect("BMP"))
                .expect("above the surrogates"),
            _ => char::from_u32(u32::try_from(rng.range(0x1_0000, 0x10_ffff)).expect("astral"))
                .expect("a scalar value"),
        })
        .collect()
}

/// Like [`unicode_text`], without control characters: pympp refuses them in
/// an echoed `description` (a server could reflect it into a header).
pub(crate) fn display_text(rng: &mut Rng, lo: usize, hi: usize) -> String {
    unicode_text(rng, lo, hi)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Which numbers a generated JSON value may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// For JCS (`request`, `opaque`, challenge ids): JCS numbers are doubles,
    /// and both pympp (`rfc8785`) and we refuse integers beyond
    /// ±(2^53 − 1) there rather than round them.
    Jcs,
    /// For plain JSON (credential payloads, receipt `extra`), where both keep
    /// integers exactly: any 64-bit integer. Not beyond: tower-mpp refuses
    /// integer literals wider than 64 bits (rather than round them), while
    /// pympp keeps them as Python integers.
    Exact,
}

/// A number both sides write and read back as the same JSON value.
///
/// Floats are never whole numbers below 1e21: JCS writes `2.0` as `2`, which
/// reads back as an integer (the same number, another JSON type). Otherwise
/// they range over short decimals, forms JCS writes with an exponent, and
/// arbitrary bit patterns.
pub(crate) fn number(rng: &mut Rng, numbers: Numbers) -> Value {
    pub(crate) const MAX_SAFE: u64 = (1 << 53) - 1;
    pub(crate) const EXPONENT_FORMS: &[f64] =
        &[1e21, 1.5e-7, 1e-7, 2.5e300, -4.25e-100, 1e22, 0.000_001];
    let sign = |rng: &mut Rng, x: f64| if rng.chance(50) { -x } else { x };
    match rng.below(if numbers == Numbers::Exact { 8 } else { 7 }) {
        0 => json!(i64::try_from(rng.below(2001)).expect("small") - 1000),
        1 => {
            let magnitude = rng.next() % (MAX_SAFE + 1);
            let magnitude = i64::try_from(magnitude).expect("below 2^53");
            json!(if rng.chance(50) {
                -magnitude
            } else {
                magnitude
            })
        }
        2 => json!(if rng.chance(50) { MAX_SAFE } else { 0 }),
        3 => json!(-i64::try_from(MAX_SAFE).expect("below 2^53")),
        4 => {
            let digits = i32::try_from(rng.range(1, 999_999_999)).expect("below 2^31");
            let scale = i32::try_from(rng.range(1, 6)).expect("small");
            let mut x = f64::from(digits) / 10f64.powi(scale);
            if x.fract() == 0.0 {
                x += 0.5;
            }
            json!(sign(rng, x))
        }
        5 => json!(*rng.pick(EXPONENT_FORMS)),
        6 => {
            let x = f64::from_bits(rng.next());
            if x.is_finite() && (x.fract() != 0.0 || x.abs() >= 1e21) {
                json!(x)
            } else {
                json!(sign(rng, 0.25))
            }
        }
        _ => {
            let bits = rng.next();
            if rng.chance(50) {
                json!(bits)
            } else {
                json!(i64::from_le_bytes(bits.to_le_bytes()))
            }
        }
    }
}

pub(crate) fn json_value(rng: &mut Rng, depth: usize, numbers: Numbers) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.below(kinds) {
        0 | 1 => Value::String(unicode_text(rng, 0, 12)),
        2 => number(rng, numbers),
        3 => Value::Bool(rng.chance(50)),
        4 => Value::Null,
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth - 1, numbers))
                .collect(),
        ),
        _ => Value::Object(json_object(rng, depth - 1, numbers)),
    }
}

pub(crate) fn json_object(rng: &mut Rng, depth: usize, numbers: Numbers) -> Map<String, Value> {
    (0..rng.below(5))
        .map(|_| (unicode_text(rng, 0, 8), json_value(rng, depth, numbers)))
        .collect()
}

/// A payment request: realistic members plus random nested ones.
pub(crate) fn request(rng: &mut Rng) -> Value {
    let mut object = json_object(rng, 3, Numbers::Jcs);
    if rng.chance(60) {
        object.insert("amount".into(), json!(rng.below(10_000_000).to_string()));
        object.insert(
            "currency".into(),
            json!(format!("0x{}", rng.string_of(b"0123456789abcdef", 40, 40))),
        );
    }
    if rng.chance(30) {
        object.insert(
            "methodDetails".into(),
            json!({"chainId": 42431, "feePayer": rng.chance(50)}),
        );
    }
    Value::Object(object)
}

/// An RFC 3339 date-time as peers write it: `T`, upper-case `Z`, optional
/// fraction (1 to 9 digits) and offset. Neither side re-writes a challenge's
/// `expires`, so any RFC 3339 form is common ground there.
pub(crate) fn rfc3339(rng: &mut Rng) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        rng.range(2000, 2099),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
    );
    if rng.chance(40) {
        text.push('.');
        text.push_str(&rng.string_of(b"0123456789", 1, 9));
    }
    push_offset(rng, &mut text, true);
    text
}

pub(crate) fn push_offset(rng: &mut Rng, text: &mut String, allow_zero: bool) {
    if rng.chance(70) {
        text.push('Z');
    } else {
        let hours = rng.range(usize::from(!allow_zero), 14);
        let minutes = *rng.pick(&[0, 30, 45]);
        let sign = if rng.chance(50) { '+' } else { '-' };
        let _ = write!(text, "{sign}{hours:02}:{minutes:02}");
    }
}

/// A receipt timestamp both sides report with the same text.
///
/// pympp parses `timestamp` into a `datetime` and writes it back as
/// `isoformat()` with `+00:00` shown as `Z`, so only texts that are already
/// in that form survive: exactly six fraction digits or none (and not all
/// zero), and a zero offset only as `Z`.
pub(crate) fn receipt_timestamp(rng: &mut Rng) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        rng.range(2000, 2099),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
    );
    if rng.chance(40) {
        let _ = write!(text, ".{:06}", rng.range(1, 999_999));
    }
    push_offset(rng, &mut text, false);
    text
}

pub(crate) fn digest(rng: &mut Rng) -> String {
    let bytes: Vec<u8> = (0..32).map(|_| rng.next().to_le_bytes()[0]).collect();
    let mut b64 = tower_mpp::protocol::base64url::encode(bytes)
        .replace('-', "+")
        .replace('_', "/");
    b64.push('=');
    if rng.chance(50) {
        format!("sha-256=:{b64}:")
    } else {
        format!("sha-256={b64}")
    }
}

/// `opaque`: a flat string map, as its canonical wire text.
///
/// pympp keeps `opaque` decoded and re-encodes it canonically (JCS) whenever
/// it writes or hashes it, so only canonical wire text round-trips through
/// it; that is also the only form we produce.
pub(crate) fn opaque(rng: &mut Rng) -> String {
    let map: Map<String, Value> = (0..rng.below(4))
        .map(|_| {
            (
                unicode_text(rng, 0, 8),
                Value::String(unicode_text(rng, 0, 16)),
            )
        })
        .collect();
    Base64Json::from_object(map)
        .expect("a string map is canonicalizable")
        .as_wire()
        .to_owned()
}

/// A challenge both sides can carry in `WWW-Authenticate`.
///
/// Common ground: method ids are lowercase letters (we follow the core
/// specification's `1*LOWERALPHA`; pympp also takes digits, `:`, `_`, `-`);
/// intents are letters, digits and `-` (pympp takes anything); `realm` is
/// not empty (pympp requires it); optional parameters are never empty
/// strings (pympp treats an empty `opaque` as absent and does not write
/// empty optionals); header parameters are ASCII (see [`header_text`]).
pub(crate) fn challenge(rng: &mut Rng) -> Value {
    let mut c = Map::new();
    let id = if rng.chance(50) {
        rng.string_of(B64URL, 43, 43)
    } else {
        header_text(rng, 1, 24)
    };
    c.insert("id".into(), json!(id));
    let realm = if rng.chance(50) {
        format!("{}.example.com", rng.string_of(LOWER, 1, 10))
    } else {
        header_text(rng, 1, 30)
    };
    c.insert("realm".into(), json!(realm));
    c.insert("method".into(), json!(rng.string_of(LOWER, 1, 8)));
    let intent = if rng.chance(50) {
        (*rng.pick(&["charge", "session", "authorize", "subscribe"])).to_owned()
    } else {
        rng.string_of(INTENT, 1, 12)
    };
    c.insert("intent".into(), json!(intent));
    c.insert("request".into(), request(rng));
    if rng.chance(50) {
        c.insert("expires".into(), json!(rfc3339(rng)));
    }
    if rng.chance(40) {
        c.insert("digest".into(), json!(digest(rng)));
    }
    if rng.chance(50) {
        c.insert("description".into(), json!(header_text(rng, 1, 40)));
    }
    if rng.chance(40) {
        c.insert("opaque".into(), json!(opaque(rng)));
    }
    Value::Object(c)
}

/// A credential. The echoed challenge travels in base64url JSON rather than
/// in a quoted-string, so its `id`, `realm` and `description` may hold any
/// Unicode here (but no control characters in `description`, which pympp
/// refuses); `realm` may also be empty. `source` is never an empty string
/// (pympp treats it as absent).
pub(crate) fn credential(rng: &mut Rng) -> Value {
    let mut echo = challenge(rng);
    if rng.chance(40) {
        echo["id"] = json!(display_text(rng, 1, 24));
        echo["realm"] = json!(display_text(rng, 0, 24));
        if echo.get("description").is_some() {
            echo["description"] = json!(display_text(rng, 1, 24));
        }
    }
    let mut c = Map::new();
    c.insert("challenge".into(), echo);
    c.insert(
        "payload".into(),
        Value::Object(json_object(rng, 3, Numbers::Exact)),
    );
    if rng.chance(50) {
        let source = if rng.chance(50) {
            format!(
                "did:pkh:eip155:42431:0x{}",
                rng.string_of(b"0123456789abcdef", 40, 40)
            )
        } else {
            unicode_text(rng, 1, 20)
        };
        c.insert("source".into(), json!(source));
    }
    Value::Object(c)
}

/// A receipt. Common ground: method ids are lowercase letters, the
/// timestamp is in pympp's own form (see [`receipt_timestamp`]), and
/// `externalId` and `extra` are never empty (pympp drops an empty
/// `externalId` or `extra` when writing).
pub(crate) fn receipt(rng: &mut Rng) -> Value {
    let mut r = Map::new();
    r.insert("status".into(), json!("success"));
    r.insert("method".into(), json!(rng.string_of(LOWER, 1, 8)));
    r.insert("timestamp".into(), json!(receipt_timestamp(rng)));
    let reference = if rng.chance(50) {
        format!("0x{}", rng.string_of(b"0123456789abcdef", 64, 64))
    } else {
        unicode_text(rng, 0, 24)
    };
    r.insert("reference".into(), json!(reference));
    if rng.chance(50) {
        r.insert("externalId".into(), json!(unicode_text(rng, 1, 16)));
    }
    if rng.chance(50) {
        let mut extra = json_object(rng, 2, Numbers::Exact);
        if extra.is_empty() {
            extra.insert("k".into(), json!("v"));
        }
        r.insert("extra".into(), Value::Object(extra));
    }
    Value::Object(r)
}

/// Inputs of `challenge.id`. The HMAC input is plain text, so `realm`,
/// `method`, `intent`, `expires` and `digest` may be any Unicode here.
/// Common ground: `opaque` is canonical wire text (pympp hashes the
/// canonical re-encoding of its decoded form, so it cannot hash arbitrary
/// text such as `trace-123`), and the secret has at least 32 bytes (our
/// server-side `SecretRing` refuses shorter ones; the published vectors are
/// checked separately).
pub(crate) fn id_input(rng: &mut Rng) -> Value {
    let base = challenge(rng);
    let mut input = Map::new();
    let secret = if rng.chance(50) {
        rng.string_of(B64URL, 32, 64)
    } else {
        let mut s = unicode_text(rng, 32, 48);
        while s.len() < 32 {
            s.push('x');
        }
        s
    };
    input.insert("secretKey".into(), json!(secret));
    for field in [
        "realm", "method", "intent", "request", "expires", "digest", "opaque",
    ] {
        if let Some(v) = base.get(field) {
            input.insert(field.into(), v.clone());
        }
    }
    if rng.chance(30) {
        input.insert("realm".into(), json!(unicode_text(rng, 0, 20)));
        input.insert("intent".into(), json!(unicode_text(rng, 1, 10)));
    }
    if rng.chance(20) {
        input.insert("expires".into(), json!(unicode_text(rng, 1, 30)));
    }
    if rng.chance(30) {
        input.insert("description".into(), json!(unicode_text(rng, 1, 30)));
    }
    Value::Object(input)
}
