//! `PaidServer` answered by rmcp's own client: the error codes and their
//! data, receipts, scopes, per-call prices, resources and prompts, the
//! capability, settle-once and idempotent retries.

use std::sync::atomic::Ordering;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};
use tower_mpp::store::MemoryResponseCache;

use crate::common::{
    Env, challenges, connect, first_challenge, mcp_error, parsed, pay, tool_call, words,
};

const RECEIPT: &str = "org.paymentauth/receipt";

#[tokio::test]
async fn mcp_unpaid_call_is_32042_with_json_challenges_bound_to_the_tool() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let error = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), None))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code.0, -32042);
    assert_eq!(error.message, "Payment Required");
    let data = error.data.clone().unwrap();
    assert_eq!(data["httpStatus"], 402);
    assert_eq!(
        data["problem"]["type"],
        "https://paymentauth.org/problems/payment-required"
    );
    let offered = challenges(&error);
    // invoice and card charge in usd, sepa in eur: all three offered.
    assert_eq!(offered.len(), 3, "{offered:?}");
    for challenge in &offered {
        assert_eq!(challenge["request"]["amount"], "1", "a native JSON request");
        assert_eq!(challenge["description"], "A joke");
        let read = parsed(challenge);
        assert!(env.payments.issued(&read), "the id binds the JSON form");
        let opaque = read.opaque.unwrap();
        assert_eq!(opaque.object()["scope"], "tools/call joke");
    }
    assert_eq!(env.served(), 0);
}

#[tokio::test]
async fn mcp_paid_call_is_served_once_with_a_receipt_and_a_replay_is_32043() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let error = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), None))
            .await
            .unwrap_err(),
    );
    let challenge = &challenges(&error)[0];
    let credential = pay(challenge, "paid");
    let result = client
        .call_tool(tool_call("joke", json!({}), Some(credential.clone())))
        .await
        .unwrap();
    let receipt = &result.meta.as_ref().unwrap()[RECEIPT];
    assert_eq!(receipt["status"], "success");
    assert_eq!(receipt["method"], "invoice");
    assert_eq!(receipt["challengeId"], challenge["id"]);
    assert!(receipt["reference"].as_str().unwrap().starts_with("inv_"));
    assert_eq!(env.served(), 1);
    assert!(env.events().contains(&format!(
        "settled tools/call joke {}",
        receipt["reference"].as_str().unwrap()
    )));

    let replay = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), Some(credential)))
            .await
            .unwrap_err(),
    );
    assert_eq!(replay.code.0, -32043);
    let data = replay.data.clone().unwrap();
    assert_eq!(data["failure"]["reason"], "invalid-challenge");
    assert_ne!(
        challenges(&replay)[0]["id"],
        challenge["id"],
        "a fresh challenge"
    );
    assert_eq!(env.served(), 1, "nothing unpaid is served");
}

#[tokio::test]
async fn mcp_failures_map_to_32043_32602_and_32603() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let call = |credential| client.call_tool(tool_call("joke", json!({}), credential));
    let challenge = challenges(&mcp_error(call(None).await.unwrap_err()))[0].clone();

    let bad = mcp_error(call(Some(pay(&challenge, "forged"))).await.unwrap_err());
    assert_eq!(bad.code.0, -32043);
    assert_eq!(
        bad.data.as_ref().unwrap()["failure"]["reason"],
        "verification-failed"
    );

    let before = env.verified.load(Ordering::SeqCst);
    for malformed in [
        json!(5),
        json!({"challenge": 5, "payload": {}}),
        json!({"challenge": challenge, "payload": "x"}),
    ] {
        let error = mcp_error(call(Some(malformed)).await.unwrap_err());
        assert_eq!(error.code.0, -32602, "{error:?}");
        assert!(!challenges(&error).is_empty(), "fresh challenges to pay");
    }
    assert_eq!(env.verified.load(Ordering::SeqCst), before, "no method ran");

    let down = mcp_error(
        call(Some(pay(&challenge, "unavailable")))
            .await
            .unwrap_err(),
    );
    assert_eq!(down.code.0, -32603);
    assert_eq!(down.data.as_ref().unwrap()["httpStatus"], 503);
    assert_eq!(down.data.as_ref().unwrap()["retryAfter"], 7);
    // The infrastructure's failure left the challenge payable.
    let paid = call(Some(pay(&challenge, "paid"))).await.unwrap();
    assert!(paid.meta.unwrap().contains_key(RECEIPT));
    assert_eq!(env.served(), 1);
}

#[tokio::test]
async fn mcp_a_challenge_pays_only_its_own_tool_and_price() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let joke = first_challenge(client.peer(), "joke", json!({})).await;
    // `fails` costs the same: the scope still tells them apart.
    let other = mcp_error(
        client
            .call_tool(tool_call("fails", json!({}), Some(pay(&joke, "paid"))))
            .await
            .unwrap_err(),
    );
    assert_eq!(other.code.0, -32043);

    // A per-call price: three words cost 3; the challenge does not pay two.
    let three = first_challenge(client.peer(), "words", words("a b c")).await;
    assert_eq!(three["request"]["amount"], "3");
    let two = mcp_error(
        client
            .call_tool(tool_call("words", words("a b"), Some(pay(&three, "paid"))))
            .await
            .unwrap_err(),
    );
    assert_eq!(two.code.0, -32043);
    let paid = client
        .call_tool(tool_call(
            "words",
            words("a b c"),
            Some(pay(&three, "paid")),
        ))
        .await
        .unwrap();
    assert!(paid.meta.unwrap().contains_key(RECEIPT));
    assert_eq!(env.served(), 1);
}

#[tokio::test]
async fn mcp_free_tools_ignore_credentials_and_failed_tools_get_no_receipt() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let free = client
        .call_tool(tool_call("free", json!({}), Some(json!("garbage"))))
        .await
        .unwrap();
    assert!(free.meta.is_none());
    assert_eq!(env.verified.load(Ordering::SeqCst), 0);

    let challenge = first_challenge(client.peer(), "fails", json!({})).await;
    let failed = client
        .call_tool(tool_call("fails", json!({}), Some(pay(&challenge, "paid"))))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(failed.meta.is_none(), "no receipt on a failed tool");
    assert!(
        env.events()
            .iter()
            .any(|e| e.starts_with("refund tools/call fails"))
    );
}

#[tokio::test]
async fn mcp_resources_and_prompts_are_paid_like_tools() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let read = |credential: Option<Value>| {
        let mut params = ReadResourceRequestParams::new("data://premium");
        params.meta = credential.map(|c| {
            let mut meta = rmcp::model::RequestMetaObject::new();
            meta.insert("org.paymentauth/credential".into(), c);
            meta
        });
        client.read_resource(params)
    };
    let error = mcp_error(read(None).await.unwrap_err());
    assert_eq!(error.code.0, -32042);
    let challenge = challenges(&error)[0].clone();
    assert_eq!(challenge["request"]["amount"], "5");
    let result = read(Some(pay(&challenge, "paid"))).await.unwrap();
    assert_eq!(
        result.meta.unwrap()[RECEIPT]["challengeId"],
        challenge["id"]
    );

    let prompt = |credential: Option<Value>| {
        let mut params = GetPromptRequestParams::new("advice");
        params.meta = credential.map(|c| {
            let mut meta = rmcp::model::RequestMetaObject::new();
            meta.insert("org.paymentauth/credential".into(), c);
            meta
        });
        client.get_prompt(params)
    };
    let challenge = challenges(&mcp_error(prompt(None).await.unwrap_err()))[0].clone();
    let scope = parsed(&challenge).opaque.unwrap().object()["scope"].clone();
    assert_eq!(scope, "prompts/get advice");
    let result = prompt(Some(pay(&challenge, "paid"))).await.unwrap();
    assert!(result.meta.unwrap().contains_key(RECEIPT));
    assert_eq!(env.served(), 2);
}

#[tokio::test]
async fn mcp_initialize_advertises_experimental_payment() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let info = client.peer_info().unwrap();
    let payment = &info.capabilities.experimental.as_ref().unwrap()["payment"];
    assert_eq!(
        payment["methods"]["invoice"],
        json!({"intents": ["charge"]})
    );
    assert_eq!(payment["methods"]["sepa"], json!({"intents": ["charge"]}));
    assert!(
        info.capabilities.tools.is_some(),
        "the wrapped server's own"
    );
}

#[tokio::test]
async fn mcp_concurrent_calls_with_one_credential_settle_once() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let challenge = first_challenge(client.peer(), "joke", json!({})).await;
    let credential = pay(&challenge, "paid");
    let calls =
        (0..8).map(|_| client.call_tool(tool_call("joke", json!({}), Some(credential.clone()))));
    let outcomes = futures_util::future::join_all(calls).await;
    let paid = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(paid, 1, "{outcomes:?}");
    assert_eq!(env.served(), 1);
}

#[tokio::test]
async fn mcp_idempotent_retries_get_the_paid_result_again() {
    let env = Env::new();
    let client = connect(env.server().idempotent(MemoryResponseCache::new())).await;
    let challenge = first_challenge(client.peer(), "joke", json!({})).await;
    let credential = pay(&challenge, "paid");
    let first = client
        .call_tool(tool_call("joke", json!({}), Some(credential.clone())))
        .await
        .unwrap();
    let retry = client
        .call_tool(tool_call("joke", json!({}), Some(credential)))
        .await
        .unwrap();
    assert_eq!(retry.meta, first.meta, "the same receipt");
    assert_eq!(retry.content, first.content);
    assert_eq!(env.served(), 1, "the tool ran once");
    assert_eq!(env.verified.load(Ordering::SeqCst), 1, "paid once");
}

#[tokio::test]
async fn mcp_tool_result_form_carries_the_challenges_in_meta() {
    let env = Env::new();
    let client = connect(env.server().tool_result_challenges(true)).await;
    let asked = client
        .call_tool(tool_call("joke", json!({}), None))
        .await
        .unwrap();
    assert_eq!(asked.is_error, Some(true));
    let data = &asked.meta.unwrap()["org.paymentauth/payment-required"];
    assert_eq!(data["httpStatus"], 402);
    let challenge = data["challenges"][0].clone();
    let paid = client
        .call_tool(tool_call("joke", json!({}), Some(pay(&challenge, "paid"))))
        .await
        .unwrap();
    assert!(paid.meta.unwrap().contains_key(RECEIPT));
    // Resources keep the error form.
    let error = client
        .read_resource(ReadResourceRequestParams::new("data://premium"))
        .await
        .unwrap_err();
    assert_eq!(mcp_error(error).code.0, -32042);
}

#[tokio::test]
async fn mcp_the_methods_a_client_declares_filter_and_order_the_challenges() {
    let env = Env::new();
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server = env.server();
    tokio::spawn(async move {
        if let Ok(running) = rmcp::ServiceExt::serve(server, server_io).await {
            let _ = running.waiting().await;
        }
    });
    let mut info = rmcp::model::ClientConfig::default();
    let mut payment = rmcp::model::JsonObject::new();
    payment.insert(
        "methods".into(),
        json!({"sepa": {"intents": ["charge"]}, "card": {"intents": ["charge"]}}),
    );
    info.capabilities.experimental = Some([("payment".to_owned(), payment)].into());
    let client = rmcp::ServiceExt::serve(info, client_io).await.unwrap();
    let error = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), None))
            .await
            .unwrap_err(),
    );
    let methods: Vec<_> = challenges(&error)
        .iter()
        .map(|c| c["method"].as_str().unwrap().to_owned())
        .collect();
    // Only what the client pays, in the server's order (equal weights).
    assert_eq!(methods, ["card", "sepa"]);
}
