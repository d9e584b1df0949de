use serde_json::json;

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
