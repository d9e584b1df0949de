//! The Tempo operations: receipt verification and fee-payer co-signing.

use serde_json::{Value, json};

use super::{call, fixture, run_all};

#[test]
fn the_tempo_receipt_vectors_pass() {
    let file = fixture("tempo-receipt-verification.json");
    let scenarios = file["scenarios"].as_array().expect("scenarios");
    let passed = run_all(scenarios, |scenario| {
        let response = call("tempo.receipt.verify", &scenario["input"], "tempo-receipt");
        let expected = &scenario["expected"];
        let same = if expected["ok"] == true {
            response == *expected
        } else {
            response["ok"] == false && response["error"]["type"] == expected["error"]["type"]
        };
        same.then_some(())
            .ok_or_else(|| format!("expected {expected}, got {response}"))
    });
    assert_eq!(passed, 5);
}

/// The receipt check is the push verification's: a matching receipt stops
/// paying once it reverted, is another transaction's, moves less, or was
/// sent by someone other than the credential's source.
#[test]
fn a_given_receipt_is_checked_as_a_fetched_one() {
    let file = fixture("tempo-receipt-verification.json");
    let good = file["scenarios"][0]["input"].clone();
    let verify = |input: &Value| call("tempo.receipt.verify", input, "t");
    assert_eq!(verify(&good)["ok"], true);
    let mut reverted = good.clone();
    reverted["receipt"]["status"] = json!("0x0");
    let mut other_tx = good.clone();
    other_tx["receipt"]["transactionHash"] = json!(format!("0x{}", "22".repeat(32)));
    let mut less = good.clone();
    less["receipt"]["logs"][0]["data"] = json!(format!("0x{}3e7", "0".repeat(61)));
    let mut other_sender = good.clone();
    other_sender["receipt"]["from"] = json!("0xabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd");
    other_sender["credential"]["source"] =
        json!("did:pkh:eip155:42431:0x9999999999999999999999999999999999999999");
    for (name, input) in [
        ("reverted", reverted),
        ("other transaction", other_tx),
        ("less", less),
        ("other sender", other_sender),
    ] {
        let response = verify(&input);
        assert_eq!(
            (response["ok"].clone(), response["error"]["type"].clone()),
            (json!(false), json!("verification_error")),
            "{name}: {response}"
        );
    }
}

/// The harness's sponsor vectors: the valid envelope is co-signed with the
/// server's fee token, every other one refused (the harness's message
/// texts are its SDKs'; the type is compared).
#[test]
fn the_fee_payer_vectors_pass() {
    let file = fixture("tempo-fee-payer-cosign.json");
    let scenarios = file["scenarios"].as_array().expect("scenarios");
    let passed = run_all(scenarios, |scenario| {
        let response = call("tempo.fee_payer.cosign", &scenario["input"], "cosign");
        let expected = &scenario["expected"];
        let same = if expected["ok"] == true {
            response == *expected
        } else {
            response["ok"] == false && response["error"]["type"] == expected["error"]["type"]
        };
        same.then_some(())
            .ok_or_else(|| format!("expected {expected}, got {response}"))
    });
    assert_eq!(passed, 9);
}

/// Each sponsor limit refuses on its own: the valid envelope changed in
/// one property is refused for that property.
#[test]
fn each_sponsor_limit_refuses_the_valid_envelope() {
    let file = fixture("tempo-fee-payer-cosign.json");
    let valid = file["scenarios"][0]["input"].clone();
    assert_eq!(call("tempo.fee_payer.cosign", &valid, "t")["ok"], true);
    let plain = file["scenarios"][1]["input"]["transaction"]["calls"][0].clone();
    let mut cases = Vec::new();
    let mut gas = valid.clone();
    gas["transaction"]["gasLimit"] = json!(2_000_001);
    cases.push(("gas", gas, "fees exceed"));
    let mut fee_token = valid.clone();
    fee_token["transaction"]["feeToken"] = json!("0x9999999999999999999999999999999999999999");
    cases.push(("fee token", fee_token, "fee token empty"));
    let mut window = valid.clone();
    window["transaction"]["validBefore"] = json!("now+1800");
    cases.push(("window", window, "past the challenge's expiry"));
    let mut extra = valid.clone();
    extra["transaction"]["calls"]
        .as_array_mut()
        .unwrap()
        .push(plain);
    cases.push(("extra call", extra, ""));
    let mut other_chain = valid;
    other_chain["transaction"]["chainId"] = json!(1);
    cases.push(("chain", other_chain, "chain"));
    for (name, input, says) in cases {
        let response = call("tempo.fee_payer.cosign", &input, name);
        assert_eq!(response["ok"], false, "{name}: {response}");
        assert_eq!(response["error"]["type"], "verification_error", "{name}");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
    }
}
