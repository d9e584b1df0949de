use super::read;
use crate::protocol::{Credential, base64url};

/// The fast reading (with its fallback) and the general one agree on
/// `json`: the same credential, or the same error.
fn agree(json: &[u8]) {
    let decoded = Credential::decode(&base64url::encode(json)).map_err(|e| e.to_string());
    let general = Credential::from_json(json).map_err(|e| e.to_string());
    assert_eq!(decoded, general, "{}", String::from_utf8_lossy(json));
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
        r#""a string""#,
        "null",
    ];
    const PAYLOADS: &[&str] = &[
        "{}",
        r#"{"p":"0x1","q":[1,2,3]}"#,
        r#"{"big":18446744073709551615,"neg":-9223372036854775808}"#,
        r#"{"wide":18446744073709551616}"#,
        r#"{"f":0.5}"#,
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
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % below as u64).expect("small")
    };
    let mut fast = 0;
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
        agree(json.as_bytes());
    }
    assert!(fast > 200, "the fast reading answered {fast} times");
}
