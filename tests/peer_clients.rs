//! Real clients we did not write pay our `basic` example server on a real
//! Tempo chain (anvil with `--network tempo`) and accept our receipts.
//!
//! Each test starts its own anvil and `target/debug/examples/basic` (built
//! by `cargo build --examples --all-features` in `scripts/test`) as a child
//! process, funds a fresh payer and runs a peer client against
//! `http://127.0.0.1:PORT/paid` (0.01 `PathUSD`). It then checks the answer
//! (200 and a `Payment-Receipt` that our `Receipt::parse` accepts), the chain
//! (the receipt's reference is a mined, successful transaction) and the
//! money (the recipient got exactly 10000 base units).
//!
//! The peers:
//! - pympp 0.16 (Python), from the venv in `TOWER_MPP_VENV` (default
//!   `.tools/venv`), through `tests/peers/pympp_pay.py`;
//! - the `mpp` crate 0.18 (Rust), through the helper crate
//!   `tests/peers/mpp-client` (a workspace of its own, outside our build),
//!   whose binary is `TOWER_MPP_MPP_CLIENT` (default: its debug build).
//!
//! A missing peer fails the test with a message saying how to install it;
//! nothing is skipped.
//!
//! mppx (TypeScript) cannot pay on anvil; it checks the server as a black
//! box with `mppx validate` instead (`peer_clients/mppx.rs`).
//!
//! Push mode (`payload.type = "hash"`) is not covered here: neither peer
//! client can pay that way. pympp 0.16 always sends a signed transaction
//! (pull) and the `mpp` crate 0.18 client always pulls (or proves, for a
//! zero amount). Our push path is tested in `tests/tempo/push.rs`.
//! Fee sponsorship (the client's `0x78` envelope, co-signed by our fee
//! payer) is paid here by both clients.

#![cfg(all(feature = "tempo", feature = "axum", feature = "redis"))]

#[path = "support/anvil.rs"]
mod anvil;
#[path = "support/listening.rs"]
mod listening;
#[path = "peer_clients/mppx.rs"]
mod mppx;
#[path = "peer_clients/peers.rs"]
mod peers;
#[path = "support/pympp_venv.rs"]
mod pympp_venv;
#[path = "peer_clients/server.rs"]
mod server;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;
use tower_mpp::protocol::Receipt;

use crate::anvil::{ALPHA_USD, Anvil, DEV_KEY_1, FEE_MANAGER_PREFIX, PATH_USD};
use crate::peers::{Outcome, Peer};
use crate::server::{Basic, Config};

/// What `/paid` costs: 0.01 `PathUSD` in base units.
const PRICE: u128 = 10_000;

/// pympp signs `valid_before = now + 60 s`; a chain at wall-clock time only
/// takes expiring-nonce transactions valid for at most 30 s more, so its
/// chain runs 40 s ahead.
const PYMPP_CLOCK_SHIFT: u64 = 40;

#[tokio::test(flavor = "multi_thread")]
async fn pympp_pays_in_pull_mode() {
    let client = Peer::Pympp.locate();
    let anvil = Anvil::start();
    anvil.shift_clock(PYMPP_CLOCK_SHIFT).await;
    let payer = anvil.funded_payer(1_000_000).await;
    let recipient = PrivateKeySigner::random().address();
    let server = Basic::start(&Config {
        rpc_url: &anvil.url,
        recipient,
        fee_payer_key: None,
    });

    let outcome = client
        .pay(&format!("{}/paid", server.url), &key_of(&payer), &anvil.url)
        .await;

    let tx = assert_paid(&anvil, &server, &outcome, recipient).await;
    assert_sender(&tx, payer.address(), &outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn mpp_crate_pays_in_pull_mode() {
    let client = Peer::MppRs.locate();
    let anvil = Anvil::start();
    let payer = anvil.funded_payer(1_000_000).await;
    let recipient = PrivateKeySigner::random().address();
    let server = Basic::start(&Config {
        rpc_url: &anvil.url,
        recipient,
        fee_payer_key: None,
    });

    let outcome = client
        .pay(&format!("{}/paid", server.url), &key_of(&payer), &anvil.url)
        .await;

    let tx = assert_paid(&anvil, &server, &outcome, recipient).await;
    assert_sender(&tx, payer.address(), &outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn mpp_crate_pays_with_fee_sponsorship() {
    pays_with_fee_sponsorship(Peer::MppRs, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_pays_with_fee_sponsorship() {
    pays_with_fee_sponsorship(Peer::Pympp, PYMPP_CLOCK_SHIFT).await;
}

/// `peer` pays a sponsored charge holding exactly the price, on a chain
/// whose clock runs `clock_shift` seconds ahead.
async fn pays_with_fee_sponsorship(peer: Peer, clock_shift: u64) {
    let client = peer.locate();
    let anvil = Anvil::start();
    if clock_shift > 0 {
        anvil.shift_clock(clock_shift).await;
    }
    // The payer holds exactly the price, in PathUSD only: nothing for fees.
    let payer = PrivateKeySigner::random();
    anvil.fund(payer.address(), PATH_USD, PRICE).await;
    let sponsor: PrivateKeySigner = DEV_KEY_1.parse().unwrap();
    let recipient = PrivateKeySigner::random().address();
    let server = Basic::start(&Config {
        rpc_url: &anvil.url,
        recipient,
        fee_payer_key: Some(DEV_KEY_1),
    });

    let outcome = client
        .pay(&format!("{}/paid", server.url), &key_of(&payer), &anvil.url)
        .await;

    let tx = assert_paid(&anvil, &server, &outcome, recipient).await;
    assert_sender(&tx, payer.address(), &outcome);
    assert_eq!(
        anvil.balance(PATH_USD, payer.address()).await,
        U256::ZERO,
        "the payer paid more than the price: the sponsor did not pay the fee"
    );
    assert_eq!(anvil.balance(ALPHA_USD, payer.address()).await, U256::ZERO);
    // Anvil's receipt `feePayer` names the sender even when sponsored: the
    // fee `Transfer` to the fee manager says who really paid.
    let fee_payers = fee_transfer_senders(&tx);
    assert!(
        !fee_payers.is_empty() && fee_payers.iter().all(|from| *from == sponsor.address()),
        "the fee was not paid by the sponsor {}: fee transfers from {fee_payers:?}\n{}",
        sponsor.address(),
        outcome.transcript
    );
}

/// The private key as `0x`-prefixed hex, as both clients take it.
fn key_of(signer: &PrivateKeySigner) -> String {
    signer.to_bytes().to_string()
}

/// Checks a successful payment of [`PRICE`] to `recipient`: a 200, a
/// receipt our parser accepts whose reference is a mined, successful
/// transaction (returned, as JSON), and the money at the recipient.
async fn assert_paid(
    anvil: &Anvil,
    server: &Basic,
    outcome: &Outcome,
    recipient: Address,
) -> Value {
    let context = || {
        format!(
            "client:\n{}\nserver stderr:\n{}",
            outcome.transcript,
            server.stderr()
        )
    };
    assert_eq!(
        outcome.status,
        200,
        "the server did not accept the payment; response body: {}\n{}",
        outcome.body,
        context()
    );
    let header = outcome
        .receipt
        .as_deref()
        .unwrap_or_else(|| panic!("a 200 without a Payment-Receipt header\n{}", context()));
    let receipt = Receipt::parse(header).unwrap_or_else(|e| {
        panic!(
            "our parser refuses our receipt {header:?}: {e}\n{}",
            context()
        )
    });
    assert_eq!(receipt.method, "tempo", "{}", context());

    let hash: B256 = receipt.reference.parse().unwrap_or_else(|e| {
        panic!(
            "the receipt's reference {:?} is not a transaction hash: {e}\n{}",
            receipt.reference,
            context()
        )
    });
    let tx: Value = anvil
        .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await;
    assert!(
        !tx.is_null(),
        "the receipt's reference {hash} is not a mined transaction\n{}",
        context()
    );
    assert_eq!(
        tx["status"],
        "0x1",
        "the transaction {hash} failed: {tx:#}\n{}",
        context()
    );
    assert!(
        tx["blockNumber"].is_string(),
        "the transaction {hash} is not in a block: {tx:#}"
    );

    assert_eq!(
        anvil.balance(PATH_USD, recipient).await,
        U256::from(PRICE),
        "the recipient (which started at 0) did not get exactly {PRICE} base units of PathUSD\n{}",
        context()
    );
    // The body names the same reference (what `basic` answers).
    let body: Value = serde_json::from_str(&outcome.body).unwrap_or(Value::Null);
    assert_eq!(
        body["reference"], receipt.reference,
        "response body: {}",
        outcome.body
    );
    tx
}

/// The transaction was sent by `payer`.
fn assert_sender(tx: &Value, payer: Address, outcome: &Outcome) {
    let from: Address = tx["from"]
        .as_str()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("no `from` in the receipt {tx:#}"));
    assert_eq!(
        from, payer,
        "the transaction is not from the payer\n{}",
        outcome.transcript
    );
}

/// Who sent the fee `Transfer`s (to the fee manager, `0xfeec...`) in a
/// transaction receipt.
fn fee_transfer_senders(tx: &Value) -> Vec<Address> {
    const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    let topic_address = |topic: &Value| -> Option<Address> {
        let word: B256 = topic.as_str()?.parse().ok()?;
        Some(Address::from_word(word))
    };
    tx["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|log| log["topics"][0] == TRANSFER)
        .filter_map(|log| {
            let from = topic_address(&log["topics"][1])?;
            let to = topic_address(&log["topics"][2])?;
            to.as_slice()
                .starts_with(&FEE_MANAGER_PREFIX)
                .then_some(from)
        })
        .collect()
}
