use serde_json::{Value, json};

use super::*;
use crate::protocol::json::{JsonErrorKind, push_json_string};

#[test]
fn a_written_string_map_decodes_when_read() {
    let mut json = String::from("{\"a\":");
    push_json_string(&mut json, "x\"y");
    json.push('}');
    let encoded = Base64Json::from_canonical_string_map(json);
    assert!(encoded.is_flat_string_map());
    assert!(encoded.is_canonical());
    assert_eq!(encoded.object()["a"], "x\"y");
}

#[test]
fn published_request_encodes_as_expected() {
    let encoded = Base64Json::from_value(json!({"amount": "1000000"})).unwrap();
    assert_eq!(encoded.as_wire(), "eyJhbW91bnQiOiIxMDAwMDAwIn0");
    assert!(encoded.is_canonical());
}

#[test]
fn wire_text_is_kept_verbatim() {
    let wire = base64url::encode(r#"{ "b":1, "a":2 }"#);
    let decoded = Base64Json::from_wire(&wire).unwrap();
    assert_eq!(decoded.as_wire(), wire);
    assert!(!decoded.is_canonical());
    assert_eq!(decoded.object()["a"], 2);
}

#[test]
fn rejects_non_objects_and_garbage() {
    assert!(Base64Json::from_value(json!([1])).is_err());
    assert!(Base64Json::from_wire(&base64url::encode("[1]")).is_err());
    assert!(Base64Json::from_wire(&base64url::encode("{")).is_err());
    assert!(Base64Json::from_wire("e30=").is_err());
    assert!(Base64Json::from_wire(&base64url::encode([0xff])).is_err());
    assert!(Base64Json::from_wire("e30").is_ok());
}

#[test]
fn the_recent_decoding_is_the_decoding() {
    for wire in ["e30", "eyJhIjoxfQ", "e30", "e30=", "WzFd", "eyJhIjoxfQ"] {
        let recent = Base64Json::from_wire_recent(wire).map_err(|e| e.to_string());
        let fresh = Base64Json::from_wire(wire).map_err(|e| e.to_string());
        assert_eq!(recent, fresh, "{wire}");
        if let Ok(recent) = recent {
            assert_eq!(recent.object(), fresh.unwrap().object());
        }
    }
}

/// `from_wire` against reading the text as a `Value` first (as it did
/// before the object was built lazily): the same acceptance, the same
/// error, and, once asked for, the same object.
fn reads_as_a_value_does(json: &[u8]) {
    let wire = base64url::encode(json);
    let lazy = Base64Json::from_wire(&wire);
    let eager = Base64Json::from_wire_as_value(&wire, json);
    let text = String::from_utf8_lossy(json);
    match (&lazy, &eager) {
        (Ok(lazy), Ok(eager)) => {
            assert_eq!(lazy.object(), eager.object(), "{text}");
            assert_eq!(
                lazy.is_flat_string_map(),
                eager.is_flat_string_map(),
                "{text}"
            );
            assert_eq!(lazy.is_canonical(), eager.is_canonical(), "{text}");
            let typed = |b: &Base64Json| {
                b.deserialize::<std::collections::BTreeMap<String, Value>>()
                    .map_err(|e| e.to_string())
            };
            assert_eq!(typed(lazy), typed(eager), "{text}");
        }
        (Err(lazy), Err(eager)) => {
            assert_eq!(
                std::mem::discriminant(&lazy.kind),
                std::mem::discriminant(&eager.kind),
                "{text}: {lazy} / {eager}"
            );
            assert_eq!(lazy.to_string(), eager.to_string(), "{text}");
        }
        _ => panic!("{text}: {:?} / {:?}", lazy.is_ok(), eager.is_ok()),
    }
}

#[test]
fn decodes_lazily_what_it_would_decode_eagerly() {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(130), "]".repeat(130));
    let texts: Vec<&[u8]> = vec![
        b"{}",
        br#"{"nonce":"Q6_qyVOURPQAAAAAAAAAAA","scope":"GET /ours/axum/paid"}"#,
        br#" { "b" : "1" , "a" : "2" , "a" : "3" } "#,
        br#"{"a":1,"a":"x"}"#,
        br#"{"a":"x","a":1}"#,
        br#"{"a":null}"#,
        br#"{"a":{"b":"c"}}"#,
        br#"{"a":["x"]}"#,
        br#"{"a":true}"#,
        br#"{"a":-0}"#,
        br#"{"a":1.5e3,"b":-9223372036854775808,"c":18446744073709551615}"#,
        br#"{"a":18446744073709551616}"#,
        br#"{"a":[-9223372036854775809]}"#,
        br#"{"a":1e400}"#,
        br#"{"a":"\u00e9\n\"\\"}"#,
        br#"{"\u00e9":"x"}"#,
        br#"{"a":"\ud800"}"#,
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"\x01\"}",
        deep.as_bytes(),
        br#"{"$serde_json::private::RawValue":"{\"a\":1}"}"#,
        br#"{"$serde_json::private::RawValue":"[1]"}"#,
        br#"{"$serde_json::private::RawValue":"{\"a\":18446744073709551616}"}"#,
        br#"{"a":{"$serde_json::private::RawValue":"\"x\""}}"#,
        br#"{"$serde_json::private::other":"x"}"#,
        b"[1]",
        b"[18446744073709551616]",
        b"\"s\"",
        b"null",
        b"true",
        b"1.5",
        b"{} x",
        b"{",
        b"",
    ];
    for json in texts {
        reads_as_a_value_does(json);
    }
}

/// Texts assembled at random from pieces of every kind, valid or not.
#[test]
fn decodes_random_texts_as_a_value_does() {
    const VALUES: [&str; 16] = [
        r#""x""#,
        r#""caf\u00e9""#,
        "\"\u{e9}\"",
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        "null",
        "true",
        "-0",
        "7",
        "1.25",
        "1e400",
        "18446744073709551616",
        "-9223372036854775808",
        "[]",
        r#"[1,"y",{"z":null}]"#,
        r#"{"k":"v"}"#,
    ];
    const NAMES: [&str; 5] = [
        r#""a""#,
        r#""b""#,
        r#""\u0061""#,
        r#""$serde_json::private::RawValue""#,
        r#""""#,
    ];
    let mut next = crate::protocol::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    let mut accepted = 0;
    for _ in 0..5000 {
        let mut members = Vec::new();
        for _ in 0..next(4) {
            members.push(format!(
                "{}:{}",
                NAMES[next(NAMES.len())],
                VALUES[next(VALUES.len())]
            ));
        }
        let mut json = format!("{{{}}}", members.join(","));
        match next(8) {
            0 => json = VALUES[next(VALUES.len())].to_owned(),
            1 => json.push_str(" ,"),
            _ => {}
        }
        // Bytes changed anywhere, even inside a character.
        let mut bytes = json.into_bytes();
        match next(10) {
            0 => bytes.insert(next(bytes.len() + 1), b' '),
            1 => {
                let at = next(bytes.len());
                bytes[at] = 0xff;
            }
            _ => {}
        }
        accepted += usize::from(Base64Json::from_wire(&base64url::encode(&bytes)).is_ok());
        reads_as_a_value_does(&bytes);
    }
    assert!(accepted > 1000, "{accepted}");
}

#[test]
fn opaque_must_map_strings_to_strings() {
    for (json, flat) in [
        (r#"{"nonce":"n","scope":"GET /"}"#, true),
        (r#"{ "a" : "\u00e9" }"#, true),
        ("{}", true),
        (r#"{"a":1,"a":"x"}"#, true),
        (r#"{"a":"x","a":1}"#, false),
        (r#"{"a":null}"#, false),
        (r#"{"a":{"b":"c"}}"#, false),
        (r#"{"a":["x"]}"#, false),
        (r#"{"a":1.5}"#, false),
        (r#"{"a":false}"#, false),
    ] {
        let encoded = Base64Json::from_wire(&base64url::encode(json)).unwrap();
        assert_eq!(encoded.is_flat_string_map(), flat, "{json}");
    }
}

/// Text the general parser refuses, which the check before the object was
/// built lazily let through (leaving the object empty), is refused.
#[test]
fn refuses_what_a_value_cannot_hold() {
    for json in [
        &b"{\"a\":\"\xff\"}"[..],
        br#"{"a":"\udc00"}"#,
        br#"{"a":[1e999]}"#,
        format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200)).as_bytes(),
    ] {
        let err = Base64Json::from_wire(&base64url::encode(json)).unwrap_err();
        assert!(matches!(err.kind, JsonErrorKind::Parse(_)), "{err}");
    }
}
