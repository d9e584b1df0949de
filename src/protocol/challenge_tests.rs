use serde_json::json;

use super::*;

fn request() -> Base64Json {
    Base64Json::from_value(json!({"amount": "1000", "currency": "usd"})).unwrap()
}

fn sample() -> Challenge {
    Challenge::new("abc", "api.example.com", "tempo", "charge", request())
        .with_expires(Timestamp::parse("2025-01-15T12:05:00Z").unwrap())
        .with_description(r#"a "quoted", Payment-like, \ text"#)
        .with_digest("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        .with_opaque(Base64Json::from_value(json!({"pi": "pi_1"})).unwrap())
}

fn kind(header: &str) -> ChallengeErrorKind {
    Challenge::parse(header).unwrap_err().kind
}

#[test]
fn format_then_parse_is_identity() {
    let challenge = sample();
    let header = challenge.to_header().unwrap();
    assert!(header.starts_with(r#"Payment id="abc", realm="api.example.com""#));
    assert_eq!(Challenge::parse(&header).unwrap(), challenge);
    challenge.to_header_value().unwrap();
}

#[test]
fn parses_several_challenges_across_values_and_schemes() {
    let a = sample().to_header().unwrap();
    let mut b = sample();
    b.id = "def".into();
    b.method = "stripe".into();
    let b = b.to_header().unwrap();
    let joined = format!(r#"Bearer realm="x", {a}, Digest nonce="n", qop="auth", {b}"#);
    let parsed = parse_challenges([joined.as_str(), a.as_str(), "Basic realm=\"y\""]).unwrap();
    let ids: Vec<_> = parsed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["abc", "def", "abc"]);
    assert!(matches!(
        kind(&joined),
        ChallengeErrorKind::SeveralPaymentChallenges
    ));
    assert!(matches!(
        kind("Bearer realm=\"x\""),
        ChallengeErrorKind::NoPaymentChallenge
    ));
}

#[test]
fn names_are_case_insensitive_and_unknown_params_ignored() {
    let header =
        r#"PAYMENT ID="abc", Realm=api, METHOD=tempo, intent="charge", Request="e30", future="x""#;
    let c = Challenge::parse(header).unwrap();
    assert_eq!((c.id.as_str(), c.realm.as_str()), ("abc", "api"));
    assert!(c.request.object().is_empty());
}

type Expect = fn(&ChallengeErrorKind) -> bool;

#[test]
fn refuses_invalid_challenges() {
    use ChallengeErrorKind as K;
    let base = r#"id="a", realm="r", method="tempo", intent="charge", request="e30""#;
    let cases: Vec<(String, Expect)> = vec![
        (
            r#"Payment realm="r", method="tempo", intent="charge", request="e30""#.into(),
            |k| matches!(k, K::MissingParameter("id")),
        ),
        (
            r#"Payment id="", realm="r", method="tempo", intent="charge", request="e30""#.into(),
            |k| matches!(k, K::EmptyId),
        ),
        (
            r#"Payment id="a", method="tempo", intent="charge", request="e30""#.into(),
            |k| matches!(k, K::MissingParameter("realm")),
        ),
        (
            r#"Payment id="a", realm="r", intent="charge", request="e30""#.into(),
            |k| matches!(k, K::MissingParameter("method")),
        ),
        (
            r#"Payment id="a", realm="r", method="tempo", request="e30""#.into(),
            |k| matches!(k, K::MissingParameter("intent")),
        ),
        (
            r#"Payment id="a", realm="r", method="tempo", intent="charge""#.into(),
            |k| matches!(k, K::MissingParameter("request")),
        ),
        (
            format!(r#"Payment {base}, ID="b""#),
            |k| matches!(k, K::DuplicateParameter(n) if n == "id"),
        ),
        (
            format!(r#"Payment {base}, x="1", X="2""#),
            |k| matches!(k, K::DuplicateParameter(n) if n == "x"),
        ),
        (
            base.replace("tempo", "Tempo").replace("id=", "Payment id="),
            |k| matches!(k, K::InvalidMethod),
        ),
        (
            base.replace("tempo", "tempo2")
                .replace("id=", "Payment id="),
            |k| matches!(k, K::InvalidMethod),
        ),
        (
            base.replace("charge", "char ge")
                .replace("id=", "Payment id="),
            |k| matches!(k, K::InvalidIntent),
        ),
        (
            base.replace("e30", "e30=").replace("id=", "Payment id="),
            |k| matches!(k, K::InvalidRequest),
        ),
        (
            base.replace("e30", "WzFd").replace("id=", "Payment id="),
            |k| matches!(k, K::InvalidRequest),
        ),
        (format!(r#"Payment {base}, expires="tomorrow""#), |k| {
            matches!(k, K::InvalidExpires(_))
        }),
        (format!(r#"Payment {base}, opaque="e30=""#), |k| {
            matches!(k, K::InvalidOpaque)
        }),
        (
            format!(
                r#"Payment {base}, opaque="{}""#,
                crate::protocol::base64url::encode(r#"{"a":1}"#)
            ),
            |k| matches!(k, K::OpaqueNotStringMap),
        ),
        (format!("Payment {base}\r\n"), |k| matches!(k, K::Syntax(_))),
        (
            format!("Payment {}", base.replace("realm=\"r\"", "realm=\"r\nx\"")),
            |k| matches!(k, K::Syntax(_)),
        ),
        ("Payment abc".into(), |k| {
            matches!(k, K::MissingParameter("id"))
        }),
        ("Payment".into(), |k| matches!(k, K::MissingParameter("id"))),
    ];
    for (header, expected) in cases {
        let k = kind(&header);
        assert!(expected(&k), "{header:?} gave {k:?}");
    }
}

#[test]
fn refuses_oversized_request() {
    let big = "A".repeat(MAX_REQUEST_LEN + 1);
    let header =
        format!(r#"Payment id="a", realm="r", method="tempo", intent="charge", request="{big}""#);
    assert!(matches!(kind(&header), ChallengeErrorKind::RequestTooLarge));

    let huge = Base64Json::from_value(json!({"memo": "x".repeat(MAX_REQUEST_LEN)})).unwrap();
    let err = Challenge::new("a", "r", "tempo", "charge", huge)
        .to_header()
        .unwrap_err();
    assert!(matches!(err.kind, ChallengeErrorKind::RequestTooLarge));
}

#[test]
fn formatting_refuses_what_a_header_cannot_carry() {
    let mut c = sample();
    c.description = Some("caf\u{e9}".into());
    assert!(c.to_header().unwrap_err().is_unrepresentable());
    let mut c = sample();
    c.realm = "a\r\nSet-Cookie: x".into();
    assert!(c.to_header().unwrap_err().is_unrepresentable());
    let mut c = sample();
    c.id = String::new();
    assert!(matches!(
        c.to_header().unwrap_err().kind,
        ChallengeErrorKind::EmptyId
    ));
    let mut c = sample();
    c.method = "TEMPO".into();
    assert!(matches!(
        c.to_header().unwrap_err().kind,
        ChallengeErrorKind::InvalidMethod
    ));
}

#[test]
fn parses_non_ascii_quoted_text_as_obs_text() {
    let header = "Payment id=\"a\", realm=\"r\", method=\"tempo\", intent=\"charge\", request=\"e30\", description=\"caf\u{e9}\"";
    assert_eq!(
        Challenge::parse(header).unwrap().description.as_deref(),
        Some("caf\u{e9}")
    );
}

/// Thousands of unknown members (a hostile echo under the credential's size
/// cap) are all kept for the duplicate check, whatever their case: the
/// check is a set past the first few, so it stays linear (#13; the
/// `parse` group of benches/layer.rs measures it).
#[test]
fn many_unknown_params_are_checked_for_duplicates_in_any_case() {
    let names: Vec<String> = (0..5_000).map(|i| format!("x{i}")).collect();
    let request = request();
    let base = [
        ("id", "i"),
        ("realm", "r"),
        ("method", "tempo"),
        ("intent", "charge"),
        ("request", request.as_wire()),
    ];
    let unique = base
        .iter()
        .copied()
        .chain(names.iter().map(|n| (n.as_str(), "")));
    assert!(Challenge::from_params(unique).is_ok());

    for repeated in ["x3", "X3", "x4999", "X4999"] {
        let params = base
            .iter()
            .copied()
            .chain(names.iter().map(|n| (n.as_str(), "")))
            .chain([(repeated, "")]);
        let error = Challenge::from_params(params).unwrap_err();
        assert!(
            matches!(&error.kind, ChallengeErrorKind::DuplicateParameter(n) if *n == repeated.to_ascii_lowercase()),
            "{repeated}: {error:?}"
        );
    }
}
