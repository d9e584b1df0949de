//! Property tests: everything we format parses back to the same value.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::{Map, Value};
use tower_mpp::protocol::{
    AcceptPayment, Base64Json, Challenge, Credential, Receipt, Timestamp, format_amount,
    parse_amount,
};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        // JCS numbers are doubles: integers beyond 2^53 are refused there.
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        (-1.0e12..1.0e12f64).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(any::<String>(), json_value(), 0..5)
        .prop_map(|m| m.into_iter().collect())
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        0u64..4_000_000_000,
        prop::option::of(0u32..1_000_000_000),
        prop::bool::ANY,
    )
        .prop_map(|(secs, nanos, with_offset)| {
            let whole =
                Timestamp::from_system_time(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                    .unwrap();
            let fraction = nanos.map(|n| format!(".{n:09}")).unwrap_or_default();
            let zone = if with_offset { "+05:30" } else { "Z" };
            let text = format!("{}{fraction}{zone}", whole.as_str().trim_end_matches('Z'));
            Timestamp::parse(&text).unwrap()
        })
}

/// Printable ASCII, including the characters quoting must escape.
fn header_text() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

prop_compose! {
    fn challenge()(
        id in "[A-Za-z0-9_-]{1,43}",
        realm in header_text(),
        method in "[a-z]{1,12}",
        intent in "[A-Za-z0-9-]{1,12}",
        request in json_object(),
        expires in prop::option::of(timestamp()),
        digest in prop::option::of(header_text()),
        description in prop::option::of(header_text()),
        opaque in prop::option::of(prop::collection::btree_map(any::<String>(), any::<String>(), 0..4)),
    ) -> Challenge {
        let mut c = Challenge::new(id, realm, method, intent, Base64Json::from_object(request).unwrap());
        c.expires = expires;
        c.digest = digest;
        c.description = description;
        c.opaque = opaque.map(|o| Base64Json::from_serialize(&o).unwrap());
        c
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn challenge_round_trips(c in challenge()) {
        let header = c.to_header().unwrap();
        prop_assert_eq!(Challenge::parse(&header).unwrap(), c.clone());
        prop_assert!(c.request.is_canonical());
        c.to_header_value().unwrap();
    }

    #[test]
    fn several_challenges_in_one_value_round_trip(a in challenge(), b in challenge()) {
        let joined = format!("{}, Bearer realm=\"x\", {}", a.to_header().unwrap(), b.to_header().unwrap());
        let parsed = tower_mpp::protocol::parse_challenges([joined.as_str()]).unwrap();
        prop_assert_eq!(parsed, vec![a, b]);
    }

    #[test]
    fn credential_round_trips(c in challenge(), source in prop::option::of(any::<String>()), payload in json_object()) {
        let mut credential = Credential::new(c, payload);
        credential.source = source;
        let header = credential.to_header().unwrap();
        prop_assert_eq!(Credential::parse(&header).unwrap(), credential);
    }

    #[test]
    fn credential_payload_integers_stay_exact(c in challenge(), n in any::<u64>(), i in any::<i64>()) {
        let mut payload = Map::new();
        payload.insert("u".into(), n.into());
        payload.insert("i".into(), i.into());
        let credential = Credential::new(c, payload);
        let parsed = Credential::parse(&credential.to_header().unwrap()).unwrap();
        prop_assert_eq!(parsed.payload["u"].as_u64(), Some(n));
        prop_assert_eq!(parsed.payload["i"].as_i64(), Some(i));
    }

    #[test]
    fn receipt_round_trips(
        method in "[a-z]{1,12}",
        at in timestamp(),
        reference in any::<String>(),
        external_id in prop::option::of(any::<String>()),
        extra in json_object(),
    ) {
        let mut receipt = Receipt::new(method, at, reference);
        receipt.external_id = external_id;
        receipt.extra = extra;
        for reserved in ["status", "method", "timestamp", "reference", "externalId"] {
            receipt.extra.remove(reserved);
        }
        let parsed = Receipt::parse(&receipt.encode().unwrap()).unwrap();
        prop_assert_eq!(parsed, receipt);
    }

    #[test]
    fn amounts_round_trip(units in any::<u128>(), decimals in 0u8..=38) {
        let text = format_amount(units, decimals);
        prop_assert_eq!(parse_amount(&text, decimals), Ok(units));
    }

    #[test]
    fn parsers_never_panic(text in any::<String>()) {
        let _ = tower_mpp::protocol::parse_challenges([text.as_str()]);
        let _ = Credential::parse(&text);
        let _ = Receipt::parse(&text);
        let _ = AcceptPayment::parse([text.as_str()]);
        let _ = parse_amount(&text, 6);
    }

    #[test]
    fn ranking_is_a_filtered_permutation(
        header in "([a-z*]{1,3}/[a-z*]{1,3}(;q=0(\\.[0-9]{1,3})?)?, ){0,4}",
        offers in prop::collection::vec(("[a-c]", "[x-z]"), 0..6),
    ) {
        let ranked = AcceptPayment::rank_by_header([header.as_str()], offers.clone(), |(m, i)| (m.as_str(), i.as_str()));
        prop_assert!(ranked.len() <= offers.len());
        prop_assert!(!offers.is_empty() || ranked.is_empty());
        for offer in &ranked {
            prop_assert!(offers.contains(offer));
        }
        prop_assert!(!ranked.is_empty() || offers.is_empty(), "a ranked list is never empty when offers exist");
    }
}
