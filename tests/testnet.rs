//! Tempo's public testnet, end to end, over the real network: our client
//! pays our server a charge and a session whose methods settle through the
//! testnet's HTTPS RPC. Opt-in: ignored by default (it needs the internet
//! and a funded key, which CI does not have). Run it with
//!
//! ```text
//! TOWER_MPP_TESTNET_RPC_URL=https://<testnet RPC> \
//! TOWER_MPP_TESTNET_KEY=0x<a key holding testnet PathUSD> \
//!     cargo test --all-features --test testnet -- --ignored --nocapture
//! ```
//!
//! The key pays 0.05 PathUSD to a fresh payee (which then pays its own
//! fees for the session's close), opens a channel of 0.01 PathUSD, pays
//! two requests with vouchers and closes it: about 0.06 PathUSD and the
//! fees of four transactions.

#![cfg(all(feature = "tempo", feature = "client", feature = "axum"))]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::client::{PaymentExt as _, PrivateKeySigner, TempoProvider, TempoSessionProvider};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::{TESTNET_CHAIN_ID, TempoSession};

const RPC_URL: &str = "TOWER_MPP_TESTNET_RPC_URL";
const KEY: &str = "TOWER_MPP_TESTNET_KEY";

/// What the charge costs: 0.05 PathUSD, the payee's fee money.
struct Funding;
impl StaticPrice for Funding {
    fn price() -> Price {
        Price::base_units(50_000)
    }
}

/// What one session request costs: 0.001 PathUSD.
struct OneRequest;
impl StaticPrice for OneRequest {
    fn price() -> Price {
        Price::base_units(1_000)
    }
}

/// A required setting: run with `--ignored`, a missing one is a failure
/// that says what to set, never a silent pass.
fn setting(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("set {RPC_URL} (a Tempo testnet RPC URL) and {KEY} (a funded testnet key) to run this test; see tests/testnet.rs")
        })
}

#[tokio::test]
#[ignore = "needs the internet: set TOWER_MPP_TESTNET_RPC_URL and TOWER_MPP_TESTNET_KEY, run with --ignored"]
async fn a_charge_and_a_session_settle_on_the_testnet() {
    let rpc_url = setting(RPC_URL);
    let payer: PrivateKeySigner = setting(KEY).trim().parse().expect("a secp256k1 key");
    let merchant = PrivateKeySigner::random();
    let payee_key = format!("0x{}", alloy::primitives::hex::encode(merchant.to_bytes()));

    // `connect` checks the node: reachable over TLS, on the testnet.
    let charge = TempoCharge::builder()
        .recipient(merchant.address().to_string())
        .rpc_url(&rpc_url)
        .chain_id(TESTNET_CHAIN_ID)
        .connect()
        .await
        .expect("the testnet node answers");
    let session = TempoSession::builder()
        .payee_key(payee_key)
        .rpc_url(&rpc_url)
        .chain_id(TESTNET_CHAIN_ID)
        .receipt_timeout(Duration::from_secs(60))
        .connect()
        .await
        .expect("the testnet node answers");
    let payments = Payments::builder()
        .realm("127.0.0.1")
        .secret("testnet smoke test: a secret of thirty-two bytes")
        .method(charge)
        .method(session)
        .build()
        .unwrap();
    let router = Router::new()
        .route("/fund", get(|_: Charge<Funding>| async { "funded" }))
        .route("/paid", get(|_: Charge<OneRequest>| async { "served" }))
        .layer(PaymentLayer::new(payments));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();

    let charging = TempoProvider::new(payer.clone(), &rpc_url).unwrap();
    let response = client
        .get(format!("{base}/fund"))
        .send_with_payment(&charging)
        .await
        .expect("the charge is paid");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    println!(
        "charge paid: {:?}",
        response.headers().get("payment-receipt")
    );

    let sessions = TempoSessionProvider::new(payer).deposit(10_000);
    for _ in 0..2 {
        let response = client
            .get(format!("{base}/paid"))
            .send_with_payment(&sessions)
            .await
            .expect("the session pays");
        assert_eq!(response.status(), 200);
    }
    let receipt = sessions
        .close(format!("{base}/paid"))
        .await
        .expect("the channel closes");
    println!("session closed: {:?}", receipt.extra.get("txHash"));
    assert!(receipt.extra["txHash"].is_string());
}
