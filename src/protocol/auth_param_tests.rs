use super::*;

fn params<'a>(c: &'a RawChallenge<'a>) -> Vec<(&'a str, &'a str)> {
    c.params.iter().map(|(k, v)| (*k, v.as_ref())).collect()
}

#[test]
fn splits_challenges_and_params() {
    let parsed = parse_challenges(
        r#"Bearer realm="x", Payment id="a, Payment b=\"c\"", method=tempo ,Basic   , Negotiate abc+/== , Digest nonce="n""#,
    )
    .unwrap();
    let schemes: Vec<_> = parsed.iter().map(|c| c.scheme).collect();
    assert_eq!(
        schemes,
        ["Bearer", "Payment", "Basic", "Negotiate", "Digest"]
    );
    assert_eq!(params(&parsed[0]), [("realm", "x")]);
    assert_eq!(
        params(&parsed[1]),
        [("id", r#"a, Payment b="c""#), ("method", "tempo")]
    );
    assert!(parsed[2].params.is_empty());
    assert_eq!(parsed[3].token68, Some("abc+/=="));
    assert_eq!(params(&parsed[4]), [("nonce", "n")]);
}

#[test]
fn tolerates_bad_whitespace_and_empty_list_items() {
    let parsed = parse_challenges(",, Payment  id = \"a\" ,, realm=r\t, ").unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(params(&parsed[0]), [("id", "a"), ("realm", "r")]);
}

#[test]
fn rejects_broken_syntax() {
    for bad in [
        "Payment id=\"a",
        "Payment id=\"a\"\r\n, x=y",
        "Payment id=\"a\"\n",
        "Payment=x",
        "Payment id=a b",
        "Payment id=\"a\\",
        "Pay\u{e9} id=a",
    ] {
        assert!(parse_challenges(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn drops_the_tail_of_a_value_cut_short_by_an_unescaped_quote() {
    let parsed = parse_challenges(
        "Payment id=\"a\", description=\"Pay for \"Premium\" service, \u{2014} 50% off!\", realm=\"r\"",
    )
    .unwrap();
    assert_eq!(
        params(&parsed[0]),
        [("id", "a"), ("description", "Pay for "), ("realm", "r")]
    );
    let parsed = parse_challenges("Payment id=\"a\" realm=\"b\"").unwrap();
    assert_eq!(params(&parsed[0]), [("id", "a")]);
}

#[test]
fn quoting_escapes_and_refuses_what_it_cannot_carry() {
    let mut out = String::new();
    assert!(push_quoted(&mut out, r#"say "hi" \ bye"#));
    assert_eq!(out, r#""say \"hi\" \\ bye""#);
    assert!(!push_quoted(&mut String::new(), "line\nbreak"));
    assert!(!push_quoted(&mut String::new(), "caf\u{e9}"));
    assert!(!push_quoted(&mut String::new(), "\u{7f}"));
}

#[test]
fn token_classes_are_the_rfc_9110_sets() {
    for b in 0..=u8::MAX {
        let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let token68 = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
        assert_eq!(is_tchar(b), tchar, "{b:#x}");
        assert_eq!(is_token68_char(b), token68, "{b:#x}");
    }
}

/// The quoted-string of `Payment x=<quoted>`, or the error's kind and
/// position.
fn quoted(quoted: &str) -> Result<String, (SyntaxErrorKind, usize)> {
    let header = format!("Payment x={quoted}");
    let parsed = parse_challenges(&header).map_err(|e| (e.kind, e.position))?;
    Ok(parsed[0].params[0].1.to_string())
}

#[test]
fn quoted_strings_unescape_any_character() {
    let long = "0123456789abcdef".repeat(5);
    for (input, expected) in [
        (r#""""#.to_owned(), String::new()),
        (r#""plain""#.to_owned(), "plain".to_owned()),
        (format!("\"{long}\""), long.clone()),
        (format!(r#""{long}\"{long}""#), format!("{long}\"{long}")),
        (format!(r#""{long}\\""#), format!("{long}\\")),
        (r#""\a\b\\\"""#.to_owned(), r#"ab\""#.to_owned()),
        (
            "\"caf\u{e9} \u{1F600}\"".to_owned(),
            "caf\u{e9} \u{1F600}".to_owned(),
        ),
        (
            "\"\\\u{e9}\\\u{1F600}x\"".to_owned(),
            "\u{e9}\u{1F600}x".to_owned(),
        ),
        ("\"a\\\tb\"".to_owned(), "a\tb".to_owned()),
    ] {
        assert_eq!(quoted(&input).as_deref(), Ok(expected.as_str()), "{input}");
        // Borrowed unless it held an escape.
        let header = format!("Payment x={input}");
        let parsed = parse_challenges(&header).unwrap();
        assert_eq!(
            matches!(parsed[0].params[0].1, Cow::Borrowed(_)),
            !input.contains('\\'),
            "{input}"
        );
    }
}

#[test]
fn quoted_strings_cut_short_are_unterminated() {
    let long = "0123456789abcdef".repeat(3);
    for input in [
        "\"".to_owned(),
        "\"abc".to_owned(),
        "\"abc\\".to_owned(),
        "\"abc\\\"".to_owned(),
        format!("\"{long}"),
        format!("\"{long}\\\"{long}"),
        "\"caf\u{e9}\\".to_owned(),
    ] {
        // The error points at the opening quote.
        assert_eq!(
            quoted(&input),
            Err((SyntaxErrorKind::UnterminatedQuotedString, 10)),
            "{input}"
        );
    }
}

#[test]
fn control_characters_are_refused_where_they_are() {
    let long = "a".repeat(40);
    for (header, at) in [
        (format!("Payment x=\"{long}\r\""), 51),
        (format!("Payment x=\"{long}\"\n"), 52),
        (format!("\u{7f}Payment x=\"{long}\""), 0),
        (format!("Payment x=\"\\\u{0}{long}\""), 12),
    ] {
        let err = parse_challenges(&header).unwrap_err();
        assert_eq!(
            (err.kind, err.position()),
            (SyntaxErrorKind::ControlCharacter, at)
        );
    }
    assert!(parse_challenges(&format!("Payment\tx=\"\t{long}\"")).is_ok());
}

/// The quoted-string grammar read one character at a time: the value up
/// to the first unescaped `"` and the offset after that quote, or `None`
/// when there is none.
fn unquote_slowly(text: &str) -> Option<(String, usize)> {
    let mut chars = text.char_indices();
    assert_eq!(chars.next(), Some((0, '"')));
    let mut value = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, at + 1)),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

#[test]
fn quoted_strings_read_as_one_character_at_a_time() {
    const PIECES: [&str; 10] = [
        "\"",
        "\\",
        "a",
        "\u{e9}",
        "\u{1F600}",
        ",",
        " ",
        "=",
        "\t",
        "0123456789abcdef",
    ];
    let mut next = crate::protocol::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..5000 {
        let mut text = String::from("\"");
        for _ in 0..next(12) {
            text.push_str(PIECES[next(PIECES.len())]);
        }
        let mut parser = Parser {
            input: &text,
            pos: 0,
        };
        let read = parser.quoted_string().map(Cow::into_owned);
        if let Some((value, end)) = unquote_slowly(&text) {
            assert_eq!(read, Ok(value), "{text:?}");
            assert_eq!(parser.pos, end, "{text:?}");
        } else {
            let err = read.unwrap_err();
            assert_eq!(err.kind, SyntaxErrorKind::UnterminatedQuotedString);
            assert_eq!((err.position, parser.pos), (0, 0));
        }
    }
}
