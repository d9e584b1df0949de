//! A paid request end to end on a real Tempo chain (anvil), in pull and
//! push mode, through an axum app with the Tempo method, with the RPC round
//! trips of each verification counted by a proxy in front of the node.
//!
//! Not criterion: each iteration needs a fresh transaction and waits for a
//! block (anvil mines every second), so this measures latency over a
//! fixed number of payments and prints percentiles.
//!
//! ```text
//! cargo bench --bench tempo --features tempo
//! ```

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceExt as _;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, parse_challenges};
use tower_mpp::tempo::TempoCharge;

#[path = "../tests/support/anvil.rs"]
mod anvil;
#[path = "../tests/support/rpc_proxy.rs"]
mod rpc_proxy;
#[path = "../tests/support/tempo_payer.rs"]
mod tempo_payer;

use anvil::{Anvil, CHAIN_ID};
use rpc_proxy::RpcProxy;
use tempo_payer::{credential, honest, pull_payload, push_payload};

/// Payments per mode.
const ROUNDS: usize = 20;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000)
    }
}

async fn challenge(app: &Router) -> Challenge {
    let response = app
        .clone()
        .oneshot(Request::get("/paid").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers().get_all("www-authenticate");
    parse_challenges(headers.iter().map(|v| v.to_str().unwrap()))
        .unwrap()
        .remove(0)
}

async fn pay(app: &Router, auth: &str) -> Duration {
    let start = Instant::now();
    let response = app
        .clone()
        .oneshot(
            Request::get("/paid")
                .header("authorization", auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("payment-receipt"));
    elapsed
}

fn report(name: &str, mut times: Vec<Duration>, calls: &[String]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap();
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let mut per_method = std::collections::BTreeMap::<&str, usize>::new();
    for call in calls {
        *per_method.entry(call.as_str()).or_default() += 1;
    }
    let rounds = times.len();
    let trips: Vec<String> = per_method
        .iter()
        .map(|(method, n)| format!("{method} x{n}/{rounds}"))
        .collect();
    println!(
        "{name:<5} n={rounds} mean {:.1} ms  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  RPC per payment: {}",
        ms(mean),
        ms(times[rounds / 2]),
        ms(p99),
        ms(times[rounds - 1]),
        trips.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let anvil = Anvil::start();
    let proxy = RpcProxy::start(&anvil.url).await;
    let recipient = alloy::signers::local::PrivateKeySigner::random().address();
    let method = TempoCharge::builder()
        .recipient(recipient.to_string())
        .rpc_url(&proxy.url)
        .chain_id(CHAIN_ID)
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm("bench.example.com")
        .secret("a benchmark secret, thirty-two bytes or more")
        .method(method)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/paid", get(|_: Charge<OneCent>| async { "paid" }))
        .layer(PaymentLayer::new(payments));
    let payer = anvil.funded_payer(100_000_000).await;

    // Pull: the server broadcasts and waits for the block.
    let mut times = Vec::with_capacity(ROUNDS);
    let mut calls = Vec::new();
    for _ in 0..ROUNDS {
        let c = challenge(&app).await;
        let signed = honest(&payer, &c, false);
        let auth = credential(&c, pull_payload(&signed, payer.address()), None);
        proxy.take_calls();
        times.push(pay(&app, &auth).await);
        calls.extend(proxy.take_calls());
    }
    report("pull", times, &calls);

    // Push: the client broadcast before; the server reads one receipt.
    let mut times = Vec::with_capacity(ROUNDS);
    let mut calls = Vec::new();
    for _ in 0..ROUNDS {
        let c = challenge(&app).await;
        let signed = honest(&payer, &c, false);
        let receipt: serde_json::Value = anvil
            .rpc(
                "eth_sendRawTransactionSync",
                serde_json::json!([tempo_payer::raw(&signed)]),
            )
            .await;
        let hash: B256 = receipt["transactionHash"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let auth = credential(&c, push_payload(hash), None);
        proxy.take_calls();
        times.push(pay(&app, &auth).await);
        calls.extend(proxy.take_calls());
    }
    report("push", times, &calls);
}
