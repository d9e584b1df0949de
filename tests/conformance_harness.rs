//! The public MPP harness's own vector files (tests/fixtures/conformance),
//! run through the conformance adapter's ABI exactly as the harness's runner
//! compares them: every scenario of every file, each one named on failure.

#[path = "../examples/conformance_adapter/abi.rs"]
mod abi;

use std::path::PathBuf;

use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/conformance",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the vector file {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn call(op: &str, input: &Value, case: &str) -> Value {
    abi::handle(&json!({"schema": 1, "op": op, "input": input, "context": {"caseName": case}}))
}

/// Runs `check` on every case and fails once, naming each failed case.
fn run_all(cases: &[Value], check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check(case)
                .err()
                .map(|why| format!("{}: {why}", case["name"]))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn the_published_challenge_id_vectors_pass() {
    let file = fixture("challenge-id.json");
    let scenarios = file["scenarios"].as_array().expect("scenarios");
    let passed = run_all(scenarios, |scenario| {
        let response = call("challenge.id", &scenario["input"], "challenge-id");
        let expected = json!({"ok": true, "value": {"id": scenario["expected"]}});
        (response == expected)
            .then_some(())
            .ok_or_else(|| format!("expected {expected}, got {response}"))
    });
    assert_eq!(passed, 25, "the published file has 25 vectors");
    let shortest = scenarios
        .iter()
        .map(|s| s["input"]["secretKey"].as_str().unwrap().len())
        .min();
    assert_eq!(shortest, Some(8), "the vectors include 8-byte secrets");
}

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

#[cfg(feature = "tempo")]
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
#[cfg(feature = "tempo")]
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

/// `http.payment_request` pays a route of our own layer through our
/// client: paid, unpaid (`plain`) and the harness's two tampering modes,
/// each answered by the registry.
#[cfg(all(feature = "client", feature = "axum"))]
#[test]
fn the_adapter_pays_as_a_client() {
    use tower_mpp::layer::PaymentLayer;
    use tower_mpp::method::Price;

    let file = fixture("server-verification-cases.json");
    let payments = abi::server_verify::payments(&file["cases"][0]["input"]).unwrap();
    let app = axum::Router::new()
        .route("/paid", axum::routing::get(|| async { "paid content" }))
        .route_layer(PaymentLayer::new(payments).charge(Price::base_units(100)));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the test server did not start");
    let request = |mode: &str| {
        let input = json!({
            "url": format!("http://{addr}/paid"), "method": "GET", "headers": {}, "body": null,
            "payment": {"payload": {"type": "hash", "hash": "0xabc123"}, "source": null},
            "mode": mode,
        });
        let response = call("http.payment_request", &input, mode);
        assert_eq!(response["ok"], true, "{mode}: {response}");
        response["value"].clone()
    };

    let paid = request("payment");
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["body"], "paid content");
    assert!(paid["headers"]["payment-receipt"].is_string(), "{paid}");

    let plain = request("plain");
    assert_eq!(plain["status"], 402, "{plain}");
    assert!(
        plain["headers"]["www-authenticate"]
            .as_str()
            .unwrap()
            .starts_with("Payment ")
    );

    for mode in ["mismatched_request", "invalid_challenge_id"] {
        let refused = request(mode);
        assert_eq!(refused["status"], 402, "{mode}: {refused}");
        let problem: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            problem["type"], "https://paymentauth.org/problems/invalid-challenge",
            "{mode}: {problem}"
        );
    }
}

/// The harness's sponsor vectors: the valid envelope is co-signed with the
/// server's fee token, every other one refused (the harness's message
/// texts are its SDKs'; the type is compared).
#[cfg(feature = "tempo")]
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
#[cfg(feature = "tempo")]
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

/// A scenario's wire text: a string, or `{prefix, repeat, count}`.
fn wire_text(wire: &Value) -> String {
    match wire {
        Value::String(text) => text.clone(),
        Value::Object(parts) => {
            let count = usize::try_from(parts["count"].as_u64().unwrap()).unwrap();
            format!(
                "{}{}",
                parts["prefix"].as_str().unwrap(),
                parts["repeat"].as_str().unwrap().repeat(count)
            )
        }
        other => panic!("a wire is a string or parts, not {other}"),
    }
}

/// Runs one `parse`/`format` test of a wire-and-object scenario.
fn check_codec(parse: &str, format: &str, scenario: &Value) -> Result<(), String> {
    let tests = &scenario["tests"];
    let object = &scenario["object"];
    let wire = scenario.get("wire").map(wire_text);
    let expect = |what: &str, response: Value, want: Option<&Value>| match &tests[what] {
        Value::Bool(true) => match (response["ok"].as_bool(), want) {
            (Some(true), Some(want)) if response["value"] == *want => Ok(()),
            _ => Err(format!("{what}: expected {want:?}, got {response}")),
        },
        Value::Object(failure) => (response["ok"] == false
            && response["error"]["type"] == failure["error_type"])
            .then_some(())
            .ok_or_else(|| format!("{what}: expected {failure:?}, got {response}")),
        _ => Ok(()),
    };
    if !tests["parse"].is_null() {
        let response = call(
            parse,
            &json!({"header": wire.clone().unwrap_or_default()}),
            "parse",
        );
        expect("parse", response, Some(object))?;
    }
    if !tests["format"].is_null() {
        // Header field order is not significant: the formatted header is
        // compared by what it parses to.
        let formatted = call(format, object, "format");
        let response = if formatted["ok"] == true {
            call(parse, &formatted["value"], "format")
        } else {
            formatted
        };
        expect("format", response, Some(object))?;
    }
    if tests["roundtrip"] == true {
        let formatted = call(format, object, "roundtrip");
        let parsed = call(parse, &formatted["value"], "roundtrip");
        if parsed["value"] != *object {
            return Err(format!("roundtrip: {parsed}"));
        }
    }
    Ok(())
}

#[test]
fn the_www_authenticate_vectors_pass() {
    let file = fixture("www-authenticate.json");
    let scenarios = file["scenarios"].as_array().expect("scenarios");
    // Scenarios the harness runs for other adapters only are not ours to
    // pass; each is named here and checked against our own choice.
    let (ours, others): (Vec<Value>, Vec<Value>) = scenarios.iter().cloned().partition(|s| {
        s.get("adapters")
            .is_none_or(|a| a.as_array().unwrap().contains(&json!("rust")))
    });
    let passed = run_all(&ours, |s| {
        check_codec("challenge.parse", "challenge.format", s)
    });
    assert_eq!((passed, others.len()), (26, 1));
    assert_eq!(others[0]["name"], "adversarial_unclosed_quoted_extension");
    // Our documented choice (README, "Conformance"): a quoted string never
    // closed is refused whole.
    let response = call(
        "challenge.parse",
        &json!({"header": wire_text(&others[0]["wire"])}),
        "unclosed",
    );
    assert_eq!(response["error"]["type"], "parse_error", "{response}");
}

#[test]
fn the_authorization_vectors_pass() {
    let file = fixture("authorization.json");
    let scenarios = file["scenarios"].as_array().expect("scenarios");
    let passed = run_all(scenarios, |s| {
        check_codec("credential.parse", "credential.format", s)
    });
    assert_eq!(passed, 9);
}
