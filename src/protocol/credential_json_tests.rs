use super::{FastCredential, read, read_plain, read_typed};
use crate::protocol::{Credential, base64url};

/// The fast reading (with its fallback) and the general one agree on
/// `json`: the same credential, or the same error. Where the plain reading
/// answers, the typed one answers the same.
fn agree(json: &[u8]) {
    let decoded = Credential::decode(&base64url::encode(json)).map_err(|e| e.to_string());
    let general = Credential::from_json(json).map_err(|e| e.to_string());
    assert_eq!(decoded, general, "{}", String::from_utf8_lossy(json));
    if let Ok(text) = std::str::from_utf8(json)
        && let Some(plain) = read_plain(text)
    {
        let typed = read_typed(text);
        assert_eq!(Some(parts(&plain)), typed.as_ref().map(parts), "{text}");
    }
}

type Parts<'a> = (
    Vec<(&'a str, &'a str)>,
    &'a serde_json::Map<String, serde_json::Value>,
    Option<&'a str>,
);

fn parts<'a>(fast: &'a FastCredential<'_>) -> Parts<'a> {
    (fast.echo().collect(), &fast.payload, fast.source.as_deref())
}

const ECHO: &str = r#""id":"a","realm":"r","method":"tempo","intent":"charge","request":"e30""#;

#[test]
fn reads_usual_credentials_itself() {
    for json in [
        format!(
            r#"{{"challenge":{{{ECHO}}},"payload":{{"proof":"0xab","n":[1,-2,{{"x":null}}]}}}}"#
        ),
        format!(
            r#"{{"source":"did:pkh:eip155:1:0xab","payload":{{}},"challenge":{{{ECHO},"expires":"2030-01-01T00:00:00Z","opaque":"e30","digest":null}}}}"#
        ),
        format!(
            r#" {{ "challenge" : {{ {ECHO} , "future":"x" }} , "payload" : {{ }} , "extra" : [true, {{"k": -1}}] }} "#
        ),
        format!(
            r#"{{"challenge":{{{ECHO},"realm":"last wins"}},"payload":{{}},"payload":{{"a":"b"}}}}"#
        ),
        format!(r#"{{"chall\u0065nge":{{"\u0069d":"\u0061",{ECHO}}},"payload":{{}}}}"#),
    ] {
        assert!(read(json.as_bytes()).is_some(), "{json}");
        agree(json.as_bytes());
    }
}

#[test]
fn reads_plain_credentials_as_the_typed_reading_does() {
    for json in [
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"proof":"0xab"}}}}"#),
        format!(
            "\n{{ \"challenge\" :\t{{ {ECHO} , \"digest\" : null }} ,\r\"payload\":{{\"a\":null,\"a\":\"b\"}}, \"source\":null}} "
        ),
        format!(
            "{{\"source\":\"s\",\"challenge\":{{\"id\":\"x\"}},\"challenge\":{{{ECHO},\"description\":\"caf\u{e9} \u{1F600}\"}},\"payload\":{{}},\"source\":\"did:pkh:eip155:1:0xab\",\"extra\":{{\"k\":null,\"j\":\"v\"}},\"x\":null,\"y\":\"z\"}}"
        ),
        format!(r#"{{"challenge":{{{ECHO},"realm":"again"}},"payload":{{}}}}"#),
    ] {
        assert!(read_plain(&json).is_some(), "{json}");
        agree(json.as_bytes());
    }
    for json in [
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"n":1}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"p":{{}}}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"extra":{{"a":{{"b":"c"}}}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"extra":true}}"#),
        format!(r#"{{"challenge":{{{ECHO},"id":"\u0061"}},"payload":{{}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"source":5}}"#),
        format!(
            r#"{{"challenge":{{{ECHO}}},"payload":{{"$serde_json::private::RawValue":"{{}}"}}}}"#
        ),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}}}},"#),
        format!("{{\"challenge\":{{{ECHO}}},\"payload\":{{\"a\":\"\t\"}}}}"),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"x":nul}}"#),
        format!(r#"{{"challenge":{{{ECHO}}}}}"#),
        r#"{"challenge":"x","payload":{}}"#.to_owned(),
        r#"{"challenge":null,"payload":{}}"#.to_owned(),
    ] {
        assert!(read_plain(&json).is_none(), "{json}");
        agree(json.as_bytes());
    }
}

#[test]
fn leaves_the_unusual_to_the_general_parser() {
    let cases = [
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"f":1.5}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"n":123456789012345678901234567890}}}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"extra":[1e400]}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"extra":-99999999999999999999}}"#),
        format!(r#"{{"challenge":{{{ECHO},"ID":"b"}},"payload":{{}}}}"#),
        format!(r#"{{"challenge":{{{ECHO},"id":5}},"payload":{{}}}}"#),
        format!(r#"{{"challenge":{{"id":5}},"challenge":{{{ECHO}}},"payload":{{}}}}"#),
        format!(
            r#"{{"challenge":{{{ECHO}}},"payload":{{"$serde_json::private::RawValue":"{{}}"}}}}"#
        ),
        format!(
            r#"{{"$serde_json::private::RawValue":"{{}}","challenge":{{{ECHO}}},"payload":{{}}}}"#
        ),
        format!(
            r#"{{"challenge":{{"$serde_json::private::RawValue":"{{{}}}"}},"payload":{{}}}}"#,
            ECHO.replace('"', "\\\"")
        ),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"source":5,"source":"s"}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}},"x":"\ud800"}}"#),
        format!(r#"{{"challenge":{{{ECHO}}},"payload":{{}}}} x"#),
        format!(
            r#"{{"challenge":{{{ECHO}}},"payload":{{}},"x":{}}}"#,
            "[".repeat(200) + &"]".repeat(200)
        ),
        format!(
            r#"{{"challenge":{{{ECHO}{}}},"payload":{{}}}}"#,
            r#","f":"v""#.repeat(20)
        ),
        r#"[{"challenge":{}}]"#.to_owned(),
        format!(r#"{{"challenge":{{{ECHO}}}}}"#),
        format!(r#"{{"challenge":{{{ECHO},"method":"TEMPO"}},"payload":{{}}}}"#),
    ];
    for json in cases {
        agree(json.as_bytes());
    }
    agree(&[b'{', 0xff, b'}']);
    // Invalid UTF-8 in a string: refused by both.
    let json = format!(r#"{{"challenge":{{{ECHO}}},"payload":{{"a":"?"}}}}"#);
    agree(&json.replacen('?', "\u{ff}", 1).into_bytes());
    let mut bytes = json.into_bytes();
    let at = bytes
        .iter()
        .rposition(|b| *b == b'?')
        .expect("written above");
    bytes[at] = 0xff;
    agree(&bytes);
}

/// Credentials assembled at random from members of every shape, in
/// every order, repeated or not: both readings agree on each.
#[test]
fn agrees_with_the_general_parser_on_random_credentials() {
    const CHALLENGES: &[&str] = &[
        "{ECHO}",
        r#"{ECHO,"description":null,"expires":"2030-01-01T00:00:00Z"}"#,
        r#"{ECHO,"Realm":"r2"}"#,
        r#"{ECHO,"realm":null}"#,
        r#"{"realm":null,ECHO}"#,
        r#"{ECHO,"digest":7}"#,
        r#"{ECHO,"opaque":"@@"}"#,
        r#"{"id":"","realm":"r","method":"m","intent":"i","request":"e30"}"#,
        r#" { ECHO , "description" : "caf\u00e9" } "#,
        "{ECHO,\"description\":\"caf\u{e9}\",\"digest\":\"sha-256=:x=:\"}",
        r#"{ECHO,"opaque":"eyJhIjoiYiJ9"}"#,
        r#""a string""#,
        "null",
    ];
    const PAYLOADS: &[&str] = &[
        "{}",
        r#"{"p":"0x1","q":[1,2,3]}"#,
        r#"{"big":18446744073709551615,"neg":-9223372036854775808}"#,
        r#"{"wide":18446744073709551616}"#,
        r#"{"f":0.5}"#,
        r#"{"type":"proof","signature":"0x0102"}"#,
        r#"{ "type" : "hash" , "hash" : null , "hash" : "0xab" }"#,
        r#"{"type":"proof","$serde_json::private::RawValue":"{}"}"#,
        "[]",
        "null",
    ];
    const OTHERS: &[(&str, &str)] = &[
        ("source", r#""did:pkh:eip155:1:0xab""#),
        ("source", "null"),
        ("source", "5"),
        ("extra", r#"{"a":[null,true,false,-0,"s\n"]}"#),
        ("extra", "1e5"),
        ("extra", "123456789012345678901234567890"),
        (r"\u0073ource", r#""escaped name""#),
        ("extra", r#"{"k":null,"j":"v"}"#),
        ("extra", r#"{"k":{"deep":"v"}}"#),
        ("extra", "null"),
        ("extra", r#""caf\u00e9""#),
        ("extra", "\"tab\there\""),
        ("$serde_json::private::RawValue", r#""{}""#),
    ];
    let mut next = crate::protocol::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
    let (mut fast, mut plain) = (0, 0);
    for _ in 0..3000 {
        let mut members = Vec::new();
        for _ in 0..=next(3) {
            let challenge = CHALLENGES[next(CHALLENGES.len())].replace("ECHO", ECHO);
            members.push(format!(r#""challenge":{challenge}"#));
        }
        for _ in 0..=next(2) {
            members.push(format!(r#""payload":{}"#, PAYLOADS[next(PAYLOADS.len())]));
        }
        for _ in 0..next(3) {
            let (name, value) = OTHERS[next(OTHERS.len())];
            members.push(format!(r#""{name}":{value}"#));
        }
        for i in (1..members.len()).rev() {
            members.swap(i, next(i + 1));
        }
        let json = format!("{{{}}}", members.join(","));
        fast += usize::from(read(json.as_bytes()).is_some());
        plain += usize::from(read_plain(&json).is_some());
        agree(json.as_bytes());
    }
    assert!(fast > 200, "the fast reading answered {fast} times");
    assert!(plain > 100, "the plain reading answered {plain} times");
}
