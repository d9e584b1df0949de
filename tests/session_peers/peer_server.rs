//! Our session client (`TempoSessionProvider`) against a session server we
//! did not write: the `mpp` crate 0.18.2's (`mpp-client serve-session`),
//! v1 channels on the escrow deployed on anvil. It opens, pays requests
//! and a metered stream, and closes; the escrow pays the payee exactly
//! what the peer's receipts said was spent, and the payer the rest.
//!
//! What the peer does otherwise than our server, and the client copes with:
//! an `open` is a management action there (answered `{"status":"ok"}`,
//! nothing served, nothing spent), so the first request's body is that
//! answer; a voucher on a request is charged one price by the app.

use std::process::Stdio;
use std::time::Duration;

use alloy::primitives::hex;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tower_mpp::client::{
    PaymentExt, SessionEvent, SpendingPolicy, TempoSessionProvider, WithPolicy,
};

use crate::common::{Chain, PRICE};

/// The peer's session server on `chain` (payee: the chain's payee), one
/// price per request or stream item; the process (killed on drop) and its
/// base URL.
async fn peer_server(chain: &Chain) -> (Child, String) {
    let mut child = Command::new(crate::peers::mpp_client())
        .args([
            "serve-session",
            "--rpc",
            &chain.anvil.url,
            "--escrow",
            &chain.escrow.to_string(),
            "--payee-key",
            &hex::encode_prefixed(chain.payee.to_bytes()),
            "--price",
            &PRICE.to_string(),
            "--deposit",
            "1000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("mpp-client serve-session starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the peer server says where it listens within 30 s")
    .unwrap();
    let said: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    let url = said["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the peer server failed: {line}"))
        .to_owned();
    (child, url)
}

/// A receipt header's `spent`.
fn spent(response: &reqwest::Response) -> u128 {
    let header = response
        .headers()
        .get("payment-receipt")
        .expect("a receipt")
        .to_str()
        .unwrap();
    let receipt = tower_mpp::protocol::Receipt::parse(header).unwrap();
    receipt.extra["spent"].as_str().unwrap().parse().unwrap()
}

/// Open (the first request: the peer's management answer), three requests
/// paid with vouchers, a metered stream of 12 items paid as it is read,
/// then the close: the escrow pays the payee 15 prices, the payer the rest
/// of the deposit, and the channel is finalized.
#[tokio::test(flavor = "multi_thread")]
async fn our_session_client_pays_the_mpp_crates_session_server() {
    let chain = Chain::start().await;
    let (_server, base) = peer_server(&chain).await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let deposit = 1_000_000;
    let provider = TempoSessionProvider::new(payer.clone()).deposit(deposit);
    // The peer's realm is the host it serves: the default rule holds.
    let paying = provider.clone().with_policy(SpendingPolicy::new());
    let client = reqwest::Client::new();
    let paid = format!("{base}/paid");

    let response = client.get(&paid).send_with_payment(&paying).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"status":"ok"}"#);
    for i in 1..=3 {
        let response = client.get(&paid).send_with_payment(&paying).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(spent(&response), i * PRICE, "request {i}");
        assert_eq!(response.text().await.unwrap(), "served");
    }

    let response = client
        .get(format!("{base}/stream"))
        .send_with_payment(&paying)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = provider.events(response);
    let (mut words, mut vouchers) = (Vec::new(), 0);
    while let Some(event) = events.next().await {
        match event.unwrap() {
            SessionEvent::Message(word) => words.push(word),
            SessionEvent::Paid { top_up, .. } => {
                assert_eq!(top_up, None, "the deposit covers it");
                vouchers += 1;
            }
            SessionEvent::Receipt(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("word-{i}")).collect();
    assert_eq!(words, expected);
    // The open's voucher was not spent (nothing served): with the stream's
    // own voucher it pays two words, and the peer asks for one more word
    // per need.
    assert_eq!(vouchers, 10, "one voucher per need, in-band");
    let receipt = events.receipt().expect("the stream's final receipt");
    let total = 15 * PRICE;
    assert_eq!(receipt.extra["spent"], total.to_string());

    let from: String = chain.anvil.rpc("eth_blockNumber", json!([])).await;
    let channel = {
        let record = provider.close_all().await;
        assert_eq!(record.len(), 1, "{record:?}");
        let (id, closed) = record.into_iter().next().unwrap();
        closed.unwrap_or_else(|e| panic!("the close of {id}: {e:?}"));
        id
    };
    let on = chain.read(channel).await;
    assert!(on.finalized || on.payer.is_zero(), "closed: {on:?}");
    assert_eq!(
        chain.paid_by_escrow(chain.payee.address(), &from).await,
        total,
        "the payee got exactly what was spent"
    );
    assert_eq!(
        chain.paid_by_escrow(payer.address(), &from).await,
        deposit - total,
        "the payer got the rest"
    );
}
