use serde_json::json;

use super::*;
use crate::protocol::{Base64Json, base64url};

#[test]
fn keys_sort_by_utf16_code_units() {
    // U+E000 sorts after U+1F600 in UTF-8/code points but before it in
    // UTF-16 (the emoji is a surrogate pair starting 0xD83D).
    let value = json!({"\u{E000}": 1, "\u{1F600}": 2, "a": 3, "B": 4, "é": 5});
    assert_eq!(
        canonical_json(&value).unwrap(),
        "{\"B\":4,\"a\":3,\"é\":5,\"\u{1F600}\":2,\"\u{E000}\":1}"
    );
}

#[test]
fn numbers_use_the_ecmascript_form() {
    let value = json!([1.0, -0.0, 1e21, 1e-7, 0.1, 123_456_789_012_345_680.0, 4.5]);
    assert_eq!(
        canonical_json(&value).unwrap(),
        "[1,0,1e+21,1e-7,0.1,123456789012345680,4.5]"
    );
    let edge = json!([9_007_199_254_740_991u64, -9_007_199_254_740_991i64]);
    assert_eq!(
        canonical_json(&edge).unwrap(),
        "[9007199254740991,-9007199254740991]"
    );
    for unsafe_int in [
        json!(9_007_199_254_740_992u64),
        json!({"a": [-9_007_199_254_740_992i64]}),
        json!(u64::MAX),
    ] {
        assert!(canonical_json(&unsafe_int).is_err(), "{unsafe_int}");
    }
}

#[test]
fn strings_use_minimal_escapes() {
    let value = json!({"s": "\u{0}\u{1f}\"\\/\u{7f}é\u{2028}"});
    assert_eq!(
        canonical_json(&value).unwrap(),
        "{\"s\":\"\\u0000\\u001f\\\"\\\\/\u{7f}é\u{2028}\"}"
    );
}

#[test]
fn json_strings_are_escaped_as_serde_json_escapes_them() {
    let mut texts: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
    texts.extend(
        [
            "",
            "GET /caf\u{e9}/\u{1F600}",
            "a\"b\\c\u{2028}\u{0}z",
            "plain",
        ]
        .map(String::from),
    );
    for text in texts {
        let mut out = String::new();
        push_json_string(&mut out, &text);
        assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
    }
}

#[test]
fn refuses_integers_wider_than_64_bits_instead_of_rounding() {
    let ok = br#"{"a":18446744073709551615,"b":-9223372036854775808,"c":1e300,"d":"123456789012345678901234567890","e\"1":1.5,"f":"0x20c0000000000000000000000000000000000000","g":"x:123456789012345678901234567890"}"#;
    assert!(parse_json(ok).is_ok());
    for bad in [
        &br#"{"a":18446744073709551616}"#[..],
        br"[-9223372036854775809]",
        br#"{"s":"\\\"","n":123456789012345678901234567890}"#,
        b"123456789012345678901234567890",
        b"[1, 18446744073709551616]",
        b"{\"a\":\n\t 18446744073709551616 }",
        br#"{"a":"0x200000000000000000000","b":-18446744073709551616}"#,
    ] {
        let err = parse_json(bad).unwrap_err();
        assert!(
            matches!(err.kind, JsonErrorKind::WideInteger),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(Base64Json::from_wire(&base64url::encode(r#"{"n":99999999999999999999}"#)).is_err());
}

/// Credentials and receipts keep their members sorted at every depth,
/// even in a build where another crate turns on `serde_json`'s
/// `preserve_order` (`scripts/test` runs this test that way too).
#[test]
fn compact_json_sorts_members_at_every_depth() {
    let mut inner = Map::new();
    inner.insert("z".into(), json!(1));
    inner.insert("a".into(), json!([{"y": 2, "b": 3}]));
    let mut object = Map::new();
    object.insert("payload".into(), Value::Object(inner));
    object.insert("challenge".into(), json!({"realm": "r", "id": "i"}));
    assert_eq!(
        compact_json(&object),
        r#"{"challenge":{"id":"i","realm":"r"},"payload":{"a":[{"b":3,"y":2}],"z":1}}"#
    );
}
