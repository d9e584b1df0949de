use serde_json::Value;

use super::{Shape, read};

fn shape(json: &str) -> Shape {
    read(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

#[test]
fn records_the_top_level_type() {
    for (json, found) in [
        ("{}", None),
        (" {\"a\":[1]} ", None),
        ("[]", Some("an array")),
        ("\"s\"", Some("a string")),
        ("true", Some("a boolean")),
        ("null", Some("null")),
        ("-1", Some("a number")),
        ("1.5", Some("a number")),
    ] {
        assert_eq!(shape(json).not_object, found, "{json}");
    }
}

#[test]
fn records_flat_objects_floats_and_reserved_names() {
    let flat = shape(r#"{"a":"x","b\n":"y\u00e9","a":"z"}"#);
    assert!(flat.flat && !flat.floats && !flat.reserved);
    for nested in [
        r#"{"a":"x","b":{}}"#,
        r#"{"a":null}"#,
        r#"{"a":1}"#,
        r#"{"a":["x"]}"#,
        r#"{"a":true}"#,
    ] {
        assert!(!shape(nested).flat, "{nested}");
    }
    for float in [
        r#"{"a":1.5}"#,
        r#"{"a":[{"b":-0}]}"#,
        r#"{"a":18446744073709551616}"#,
        "[1e3]",
    ] {
        assert!(shape(float).floats, "{float}");
    }
    assert!(!shape(r#"{"a":[18446744073709551615,-9223372036854775808,"1.5"]}"#).floats);
    for reserved in [
        r#"{"$serde_json::private::RawValue":"[1]"}"#,
        r#"{"a":[{"$serde_json::private::x":1}]}"#,
        "[{\"\\u0024serde_json::private::RawValue\":\"1\"}]",
    ] {
        assert!(shape(reserved).reserved, "{reserved}");
    }
    assert!(!shape(r#"{"a":"$serde_json::private::RawValue"}"#).reserved);
}

#[test]
fn fails_where_a_value_fails() {
    let deep = "[".repeat(200) + &"]".repeat(200);
    let texts: [&[u8]; 14] = [
        b"",
        b"{",
        b"{} x",
        b"{\"a\":1,}",
        b"{\"a\":\"\xff\"}",
        b"{\"\xff\":1}",
        br#"{"a":"\ud800"}"#,
        br#"{"a":"\x"}"#,
        b"{\"a\":\"\x01\"}",
        br#"{"a":1e400}"#,
        br#"{"a":01}"#,
        deep.as_bytes(),
        b"{\"a\":[1,2,3]]",
        br#"{"a":"\ud83d\ude00","b":[-0.0e-5,1E+2]}"#,
    ];
    for json in texts {
        let value = serde_json::from_slice::<Value>(json).map_err(|e| e.to_string());
        let shape = read(json).map_err(|e| e.to_string());
        assert_eq!(
            shape.as_ref().err(),
            value.as_ref().err(),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
}
