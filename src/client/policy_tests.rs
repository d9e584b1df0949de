use serde_json::json;

use super::*;
use crate::protocol::Base64Json;

const TOKEN: &str = "0x20C0000000000000000000000000000000000000";

fn challenge(intent: &str, request: &Value) -> Challenge {
    let request = Base64Json::from_value(request.clone()).unwrap();
    Challenge::new("id", "realm", "tempo", intent, request)
}

fn charge(amount: &str) -> Challenge {
    challenge(
        "charge",
        &json!({
            "amount": amount,
            "currency": TOKEN,
            "recipient": "0xAbC0000000000000000000000000000000000001",
            "methodDetails": {"chainId": 1337},
        }),
    )
}

#[test]
fn no_rules_allow_any_charge_or_session_but_not_other_intents() {
    let policy = SpendingPolicy::new();
    assert!(policy.reserve(&charge("5")).is_ok());
    let session = challenge("session", &json!({"amount": "1", "currency": TOKEN}));
    assert!(policy.reserve(&session).is_ok());
    let subscription = challenge("subscription", &json!({"amount": "1", "currency": TOKEN}));
    assert_eq!(
        policy.reserve(&subscription).unwrap_err(),
        PolicyViolation::Intent("subscription".into())
    );
}

/// A session's unit price counts against the caps like a charge's amount.
#[test]
fn a_sessions_unit_price_counts_against_the_caps() {
    let policy = SpendingPolicy::new()
        .max_per_request(TOKEN, 10)
        .max_total(TOKEN, 15);
    let unit = |amount: &str| challenge("session", &json!({"amount": amount, "currency": TOKEN}));
    assert!(policy.reserve(&unit("8")).is_ok());
    assert!(matches!(
        policy.reserve(&unit("11")).unwrap_err(),
        PolicyViolation::PerRequest { .. }
    ));
    assert!(matches!(
        policy.reserve(&unit("8")).unwrap_err(),
        PolicyViolation::Total { .. }
    ));
}

/// A split paying almost everything to an unlisted address is refused
/// as the primary recipient would be; a split without a recipient too.
#[test]
fn every_split_recipient_must_be_allowed() {
    const TRUSTED: &str = "0xAbC0000000000000000000000000000000000001";
    const OTHER: &str = "0xDeF0000000000000000000000000000000000002";
    let policy = SpendingPolicy::new().allow_recipient(TRUSTED);
    let split = |splits: Value| {
        challenge(
            "charge",
            &json!({
                "amount": "1000000",
                "currency": TOKEN,
                "recipient": TRUSTED,
                "methodDetails": {"chainId": 1337, "splits": splits},
            }),
        )
    };
    assert_eq!(
        policy
            .reserve(&split(json!([{"amount": "999999", "recipient": OTHER}])))
            .unwrap_err(),
        PolicyViolation::Recipient(Some(OTHER.to_ascii_lowercase()))
    );
    assert_eq!(
        policy
            .reserve(&split(json!([{"amount": "5"}])))
            .unwrap_err(),
        PolicyViolation::Recipient(None)
    );
    assert!(
        policy
            .reserve(&split(json!([{"amount": "5", "recipient": TRUSTED}])))
            .is_ok()
    );
    let both = SpendingPolicy::new()
        .allow_recipient(TRUSTED)
        .allow_recipient(OTHER);
    assert!(
        both.reserve(&split(json!([{"amount": "999999", "recipient": OTHER}])))
            .is_ok()
    );
}

#[test]
fn unreadable_prices_are_refused() {
    let policy = SpendingPolicy::new();
    for request in [
        json!({"currency": TOKEN}),
        json!({"amount": 5, "currency": TOKEN}),
        json!({"amount": "-5", "currency": TOKEN}),
        json!({"amount": "5.0", "currency": TOKEN}),
        json!({"amount": "5"}),
        json!({"amount": "340282366920938463463374607431768211456", "currency": TOKEN}),
    ] {
        let refused = policy.reserve(&challenge("charge", &request));
        assert!(
            matches!(refused, Err(PolicyViolation::Unpriced(_))),
            "{request}: {refused:?}"
        );
    }
}

#[test]
fn limits_compare_currencies_and_recipients_without_case() {
    let policy = SpendingPolicy::new()
        .max_per_request(TOKEN.to_lowercase(), 10)
        .allow_recipient("0xabc0000000000000000000000000000000000001");
    assert!(policy.reserve(&charge("10")).is_ok());
    assert!(matches!(
        policy.reserve(&charge("11")),
        Err(PolicyViolation::PerRequest {
            amount: 11,
            max: 10,
            ..
        })
    ));
}

#[test]
fn totals_are_shared_by_clones_and_released_reservations_give_back() {
    let policy = SpendingPolicy::new().max_total(TOKEN, 10);
    let clone = policy.clone();
    let first = policy.reserve(&charge("6")).unwrap();
    assert!(matches!(
        clone.reserve(&charge("5")),
        Err(PolicyViolation::Total {
            spent: 6,
            max: 10,
            ..
        })
    ));
    clone.release(first);
    assert_eq!(policy.spent(TOKEN), 0);
    let _second = clone.reserve(&charge("10")).unwrap();
    assert_eq!(policy.spent(&TOKEN.to_lowercase()), 10);
    // Adding to a total near u128::MAX does not wrap.
    let huge = SpendingPolicy::new().max_total(TOKEN, u128::MAX);
    let _ = huge.reserve(&charge(&u128::MAX.to_string())).unwrap();
    assert!(matches!(
        huge.reserve(&charge("1")),
        Err(PolicyViolation::Total { .. })
    ));
}

#[test]
fn a_chain_rule_needs_a_chain() {
    let policy = SpendingPolicy::new().allow_chain_id(1337);
    assert!(policy.reserve(&charge("1")).is_ok());
    let chainless = challenge("charge", &json!({"amount": "1", "currency": "usd"}));
    assert_eq!(
        policy.reserve(&chainless).unwrap_err(),
        PolicyViolation::ChainId(None)
    );
    let other = SpendingPolicy::new().allow_chain_id(4217);
    assert_eq!(
        other.reserve(&charge("1")).unwrap_err(),
        PolicyViolation::ChainId(Some(1337))
    );
}

#[test]
fn a_recipient_rule_needs_a_recipient() {
    let policy = SpendingPolicy::new().allow_recipient("acct_1");
    let anonymous = challenge("charge", &json!({"amount": "1", "currency": "usd"}));
    assert_eq!(
        policy.reserve(&anonymous).unwrap_err(),
        PolicyViolation::Recipient(None)
    );
}

/// A stream's further vouchers count toward the total, and together with
/// what its request cost so far toward the per-request limit; a refused
/// amount is not counted.
#[cfg(feature = "tempo")]
#[test]
fn a_streams_vouchers_count_per_request_and_in_total() {
    let policy = SpendingPolicy::new()
        .max_per_request(TOKEN, 30)
        .max_total(TOKEN, 50);
    let session = challenge("session", &json!({"amount": "10", "currency": TOKEN}));
    let _first = policy.reserve(&session).unwrap();
    let _more = policy.reserve_more(&session, 20, 10).unwrap();
    assert_eq!(
        policy.reserve_more(&session, 1, 30).unwrap_err(),
        PolicyViolation::PerRequest {
            currency: TOKEN.to_ascii_lowercase(),
            amount: 31,
            max: 30,
        }
    );
    assert_eq!(policy.spent(TOKEN), 30);
    let _next = policy.reserve_more(&session, 20, 0).unwrap();
    assert_eq!(
        policy.reserve_more(&session, 1, 0).unwrap_err(),
        PolicyViolation::Total {
            currency: TOKEN.to_ascii_lowercase(),
            amount: 1,
            spent: 50,
            max: 50,
        }
    );
}
