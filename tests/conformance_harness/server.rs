//! `server.verify`: the harness's cases through the registry.

use serde_json::{Value, json};

use super::{abi, call, fixture, run_all};

#[test]
fn the_server_verification_cases_pass() {
    let file = fixture("server-verification-cases.json");
    let cases = file["cases"].as_array().expect("cases");
    let passed = run_all(cases, |case| {
        let response = call("server.verify", &case["input"], "server-verify");
        let expected = json!({"ok": true, "value": case["expected"]});
        (response == expected)
            .then_some(())
            .ok_or_else(|| format!("expected {expected}, got {response}"))
    });
    assert_eq!(passed, 9);
}

/// Each refusal comes from the registry's own checks: the same credential
/// that settles is refused once a bound field changes, and a method error is
/// reported only when the challenge checks passed.
#[test]
fn server_verify_refusals_come_from_the_registry() {
    let file = fixture("server-verification-cases.json");
    let valid = file["cases"][0]["input"].clone();
    let verify = |input: &Value| call("server.verify", input, "t")["value"].clone();
    assert_eq!(verify(&valid)["ok"], true);

    let mut other_secret = valid.clone();
    other_secret["secretKey"] = json!("another-secret");
    assert_eq!(verify(&other_secret)["errorType"], "invalid_challenge");

    let mut other_price = valid.clone();
    other_price["request"]["amount"] = json!("99");
    assert_eq!(verify(&other_price)["errorType"], "invalid_challenge");

    let mut tampered = valid.clone();
    tampered["credential"]["challenge"]["id"] = json!("invalid-challenge-id");
    tampered["verificationError"] = json!("never reached");
    assert_eq!(verify(&tampered)["errorType"], "invalid_challenge");
}

/// The zero padding of a short harness secret is RFC 2104's own: the
/// registry's padded key gives the ids of the bare HMAC with the short key.
#[test]
fn a_padded_secret_signs_as_the_short_one() {
    use tower_mpp::binding::{BindingInput, SecretRing, challenge_id};
    let input = BindingInput {
        realm: "api.example.com",
        method: "tempo",
        intent: "charge",
        request: "e30",
        expires: Some("2099-01-01T00:00:00Z"),
        digest: None,
        header: None,
        opaque: None,
    };
    for secret in [
        "k",
        "secret-key",
        "test-vector-secret",
        "x".repeat(31).as_str(),
    ] {
        let ring = SecretRing::new(abi::server_verify::padded_secret(secret).unwrap());
        assert_eq!(
            ring.sign(&input),
            challenge_id(secret.as_bytes(), &input),
            "{secret}"
        );
    }
}

/// A challenge that binds no route scope (the harness's, with no `opaque`)
/// pays only where no scope is bound: never for a route of the layer.
#[test]
fn an_unscoped_challenge_does_not_pay_for_a_route() {
    use tower_mpp::method::{ChargeContext, Price, RejectionKind};
    use tower_mpp::protocol::ProblemType;
    let file = fixture("server-verification-cases.json");
    let input = &file["cases"][0]["input"];
    let payments = abi::server_verify::payments(input).unwrap();
    let credential = abi::server_verify::credential_from_value(&input["credential"]).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let price = Price::base_units(0);
    let routed = ChargeContext {
        scope: "GET /paid",
        ..ChargeContext::default()
    };
    let refused = runtime
        .block_on(payments.verify(&price, &routed, &credential))
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        RejectionKind::Failed(ProblemType::InvalidChallenge)
    );
    let unscoped =
        runtime.block_on(payments.verify(&price, &ChargeContext::default(), &credential));
    assert!(unscoped.is_ok(), "{unscoped:?}");
}
