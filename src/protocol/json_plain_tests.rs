use serde_json::Value;

use super::Plain;

/// Reads `text` as one plain value of any depth up to 3.
fn plain_value(text: &str) -> Option<()> {
    let mut plain = Plain::new(text);
    plain.skip_value(3)?;
    plain.at_end().then_some(())
}

#[test]
fn reads_plain_objects() {
    for text in [
        "{}",
        " {\t}\r\n",
        "{\"a\":\"x\",\"b\":\"caf\u{e9} \u{1F600}\",\"a\":\"\"}",
        "{ \"a\" :\n\"x\" , \"\" : \"/\u{7f}\" }",
    ] {
        assert_eq!(Plain::new(text).string_map(), Some(()), "{text}");
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(value.as_object().unwrap().values().all(Value::is_string));
    }
    for text in [
        r#"{"a":null,"b":{"c":{"d":"e"},"f":null}}"#,
        r#""s""#,
        "null",
    ] {
        assert_eq!(plain_value(text), Some(()), "{text}");
    }
}

#[test]
fn leaves_everything_else() {
    for text in [
        "",
        "{",
        "}",
        "[]",
        r#"{"a":"x",}"#,
        r#"{"a":"x""b":"y"}"#,
        r#"{"a" "x"}"#,
        r#"{"a":"x"} {}"#,
        r#"{"a":"x"}x"#,
        r#"{"a":1}"#,
        r#"{"a":true}"#,
        r#"{"a":["x"]}"#,
        r#"{"a":null}"#,
        r#"{"a":{}}"#,
        r#"{"a":"\u0078"}"#,
        r#"{"\"":"x"}"#,
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"x\u{0}\"}",
        r#"{"a":"x}"#,
        r#"{a:"x"}"#,
        "{\"a\":\"x\"}\u{a0}",
        r#"{"$serde_json::private::RawValue":"{}"}"#,
    ] {
        assert_eq!(Plain::new(text).string_map(), None, "{text}");
    }
    for text in [
        "nul",
        "nulll",
        "Null",
        r#"{"a":nul}"#,
        r#"{"a":{"b":{"c":{"d":"e"}}}}"#,
        r#"{"a":{"$serde_json::private::RawValue":"{}"}}"#,
        "\u{c}{}",
        "1",
    ] {
        assert_eq!(plain_value(text), None, "{text}");
    }
}

/// Texts assembled at random from valid and invalid pieces: whatever the
/// plain reader accepts, `serde_json` reads as the same object.
#[test]
fn accepts_only_what_serde_json_reads_alike() {
    const PIECES: [&str; 22] = [
        "{",
        "}",
        "\"",
        "\"a\"",
        "\"b\"",
        ":",
        ",",
        " ",
        "\n",
        "\t",
        "\u{c}",
        "null",
        "nul",
        "1",
        "[",
        "]",
        "\\",
        "\\u0041",
        "\u{e9}",
        "\u{0}",
        "\"$serde_json::private::x\"",
        "x",
    ];
    let mut next = crate::protocol::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
    let (mut maps, mut values) = (0, 0);
    for _ in 0..200_000 {
        let mut text = String::new();
        // Mostly well-formed objects, changed here and there.
        if next(2) == 0 {
            text.push('{');
            for i in 0..next(4) {
                if i > 0 {
                    text.push(',');
                }
                let value = ["\"v\"", "null", "{\"c\":\"d\"}", "\"w\u{e9}\""][next(4)];
                text.push_str(["\"k0\":", "\"k1\":", "\"k2\":"][next(3)]);
                text.push_str(value);
            }
            text.push('}');
        }
        for _ in 0..next(4) {
            let at = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .nth(next(text.chars().count() + 1))
                .unwrap_or(text.len());
            text.insert_str(at, PIECES[next(PIECES.len())]);
        }
        let value = serde_json::from_str::<Value>(&text);
        if Plain::new(&text).string_map().is_some() {
            maps += 1;
            let value = value.as_ref().unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let object = value.as_object().unwrap();
            assert!(object.values().all(Value::is_string), "{text:?}");
        }
        if plain_value(&text).is_some() {
            values += 1;
            assert!(value.is_ok(), "{text:?}");
        }
    }
    assert!(maps > 1000 && values > 5000, "{maps} {values}");
}
