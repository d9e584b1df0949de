//! Paying our server: pull, push, proof, sponsored fees, splits, through
//! `send_with_payment`, the middleware and a `MultiProvider`.

use alloy::primitives::{Address, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use tower_mpp::client::{MultiProvider, PayError, PaymentMiddleware, PaymentProvider};
use tower_mpp::protocol::{Challenge, Credential};
use tower_mpp::tempo::Mode;

use crate::common::{PRICE, Server, http, receipt};
use crate::support::anvil::DEV_KEY_1;

/// A pull payment: the server broadcasts, the recipient is paid exactly,
/// the transfer carries the attribution memo naming this client.
#[tokio::test]
async fn pull_pays_with_a_memo_naming_the_client() {
    let server = Server::start().await;
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone()).client_id("client-tests");

    let response = server.get("/paid", &provider).await.unwrap();

    assert_eq!(response.status(), 200);
    let receipt = receipt(&response);
    assert_eq!(response.text().await.unwrap(), "served");
    assert_eq!(receipt.method, "tempo");
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
    let memo = server
        .memo_paid_to(&receipt.reference, server.recipient)
        .await;
    assert_eq!(memo[0..4], keccak256("mpp")[0..4]);
    assert_eq!(memo[15..25], keccak256("client-tests")[0..10]);
    // The first request advertised what the provider pays; the retry paid.
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].accept_payment.as_deref(), Some("tempo/charge"));
    assert!(!seen[0].paid && seen[1].paid);
}

/// Push: the client broadcasts and sends the hash.
#[tokio::test]
async fn push_pays_by_hash() {
    let server = Server::start().await;
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone()).mode(Mode::Push);

    let response = server.get("/paid", &provider).await.unwrap();

    assert_eq!(response.status(), 200);
    let receipt = receipt(&response);
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
    // The receipt names the transaction the client sent.
    let tx: serde_json::Value = server
        .anvil
        .rpc(
            "eth_getTransactionByHash",
            serde_json::json!([receipt.reference]),
        )
        .await;
    assert_eq!(
        tx["from"].as_str().unwrap().parse::<Address>().unwrap(),
        payer.address()
    );
}

/// A challenge that allows only push is paid by push even when pull is
/// preferred.
#[tokio::test]
async fn supported_modes_override_the_preference() {
    let server = Server::start_with(|b| b.supported_modes([Mode::Push])).await;
    let provider = server.provider(server.payer(1_000_000).await);
    let response = server.get("/paid", &provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
}

/// A zero amount is a proof: served, and nothing moves.
#[tokio::test]
async fn proof_pays_a_free_route_without_a_transaction() {
    let server = Server::start().await;
    // A fresh account with no funds at all can prove who it is.
    let provider = server.provider(PrivateKeySigner::random());
    let response = server.get("/zero", &provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(receipt(&response).method, "tempo");
    assert_eq!(response.text().await.unwrap(), "served free");
}

/// The server sponsors fees: the payer loses the price and nothing more.
#[tokio::test]
async fn sponsored_fees_cost_the_payer_only_the_price() {
    let server = Server::start_with(|b| b.fee_payer_key(DEV_KEY_1)).await;
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone());

    let response = server.get("/paid", &provider).await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        server.balance(payer.address()).await,
        U256::from(1_000_000 - PRICE)
    );
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
    // Where the server does not sponsor, the payer pays its own fees.
    let response = server.get("/unsponsored", &provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.balance(payer.address()).await < U256::from(1_000_000 - 2 * PRICE));
}

/// Splits are paid in the same transaction.
#[tokio::test]
async fn splits_pay_every_recipient() {
    let partner = PrivateKeySigner::random().address();
    let server = Server::start_with(move |b| b.split(partner.to_string(), 2_500)).await;
    let provider = server.provider(server.payer(1_000_000).await);
    let response = server.get("/paid", &provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.balance(server.recipient).await,
        U256::from(PRICE - 2_500)
    );
    assert_eq!(server.balance(partner).await, U256::from(2_500));
}

/// The middleware pays for every request of its client.
#[tokio::test]
async fn the_middleware_pays() {
    let server = Server::start().await;
    let provider = server.provider(server.payer(1_000_000).await);
    let client = reqwest_middleware::ClientBuilder::new(http())
        .with(PaymentMiddleware::new(provider))
        .build();
    for _ in 0..2 {
        let response = client.get(server.at("/paid")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(receipt(&response).method, "tempo");
    }
    assert_eq!(
        server.balance(server.recipient).await,
        U256::from(2 * PRICE)
    );
    // Free routes pass through untouched.
    let response = client.get(server.at("/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

/// A provider of another method, tried first.
struct Invoices;
impl PaymentProvider for Invoices {
    fn supports(&self, method: &str, _: &str) -> bool {
        method == "invoice"
    }
    async fn pay(&self, _: &Challenge) -> Result<Credential, PayError> {
        panic!("no invoice challenge is offered")
    }
    fn accepts(&self) -> Vec<(String, String)> {
        vec![("invoice".to_owned(), "charge".to_owned())]
    }
}

/// A `MultiProvider` routes the Tempo challenge to the Tempo provider and
/// advertises both.
#[tokio::test]
async fn a_multi_provider_routes_by_method() {
    let server = Server::start().await;
    let provider = MultiProvider::new()
        .with(Invoices)
        .with(server.provider(server.payer(1_000_000).await));
    let response = server.get("/hop", &provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
    let seen = server.seen();
    assert_eq!(
        seen[0].accept_payment.as_deref(),
        Some("invoice/charge, tempo/charge")
    );
    // `/hop` redirected within the origin: followed, paid, followed again.
    let paths: Vec<_> = seen.iter().map(|s| (s.path.as_str(), s.paid)).collect();
    assert_eq!(
        paths,
        [
            ("/hop", false),
            ("/paid", false),
            ("/hop", true),
            ("/paid", true)
        ]
    );
}
