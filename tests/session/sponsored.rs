//! Sponsored opens and top-ups (`feePayer: true`): the payer pays its
//! deposits and no fee; a transaction that could cost the sponsor without
//! opening a channel is refused before anything is signed or sent.

use std::time::Duration;

use alloy::primitives::{U256, hex};
use alloy::signers::local::PrivateKeySigner;
use tower_mpp::store::MemoryChannelStore;
use tower_mpp::tempo::SponsorBudget;

use crate::common::{App, Chain, PRICE, field};
use crate::support::anvil::PATH_USD;
use crate::support::session_payer::Channel;

/// A change to a transaction before it is signed.
type Bend = Box<dyn FnOnce(&mut tempo_alloy::primitives::transaction::TempoTransaction)>;

/// An app whose session sponsors open and top-up fees with a funded key of
/// its own; the key.
pub(crate) async fn sponsoring_app(
    chain: &Chain,
    budget: SponsorBudget,
) -> (App, PrivateKeySigner) {
    let fee_payer = PrivateKeySigner::random();
    chain
        .anvil
        .fund(fee_payer.address(), PATH_USD, 10_000_000)
        .await;
    let session = chain
        .session_builder(&chain.anvil.url, MemoryChannelStore::new())
        .fee_payer_key(hex::encode_prefixed(fee_payer.to_bytes()))
        .sponsor_budget(budget)
        .build()
        .unwrap();
    (App::new(chain, session), fee_payer)
}

#[tokio::test]
async fn a_sponsored_open_and_top_up_cost_the_payer_its_deposits_and_no_fee() {
    let chain = Chain::start().await;
    let (app, fee_payer) = sponsoring_app(&chain, SponsorBudget::default()).await;
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    assert_eq!(
        challenge.request.object()["methodDetails"]["feePayer"],
        true,
        "the challenge offers to sponsor"
    );
    let payer = channel.payer.address();
    let (payer_before, sponsor_before) = (
        chain.balance(payer).await,
        chain.balance(fee_payer.address()).await,
    );

    let open = channel.sponsored_transaction(channel.open_calls(10 * PRICE), |_| {});
    let reply = app
        .pay("/paid", &challenge, channel.open_payload_with(&open, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(chain.read(channel.id).await.deposit, 10 * PRICE);
    assert_eq!(
        chain.balance(payer).await,
        payer_before - U256::from(10 * PRICE),
        "the deposit, no fee"
    );

    let top_up = channel.sponsored_transaction(channel.top_up_calls(5 * PRICE), |_| {});
    let payload = serde_json::json!({
        "action": "topUp", "type": "transaction", "channelId": channel.id.to_string(),
        "transaction": top_up, "additionalDeposit": (5 * PRICE).to_string(),
    });
    let reply = app
        .manage("/paid", &challenge, payload.as_object().unwrap().clone())
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(!field(&reply, "txHash").is_empty());
    assert_eq!(chain.read(channel.id).await.deposit, 15 * PRICE);
    assert_eq!(
        chain.balance(payer).await,
        payer_before - U256::from(15 * PRICE)
    );
    assert!(
        chain.balance(fee_payer.address()).await < sponsor_before,
        "the sponsor paid the fees"
    );
}

#[tokio::test]
async fn sponsored_opens_that_could_cost_the_sponsor_are_refused_before_anything_is_sent() {
    let chain = Chain::start().await;
    let (app, fee_payer) = sponsoring_app(&chain, SponsorBudget::default()).await;
    let sponsor_before = chain.balance(fee_payer.address()).await;
    let challenge = app.challenge("/paid").await;
    let channel = chain.channel().await;
    let calls = channel.open_calls(10 * PRICE);
    let bent: [(&str, Bend); 4] = [
        (
            "a plain nonce",
            Box::new(|tx| {
                tx.nonce_key = U256::from(7);
                tx.nonce = 0;
            }),
        ),
        (
            "valid for an hour",
            Box::new(|tx| {
                tx.valid_before =
                    std::num::NonZeroU64::new(crate::support::tempo_payer::now() + 3600);
            }),
        ),
        ("too much gas", Box::new(|tx| tx.gas_limit = 30_000_000)),
        ("no validity window", Box::new(|tx| tx.valid_before = None)),
    ];
    for (what, bend) in bent {
        let open = channel.sponsored_transaction(calls.clone(), bend);
        let reply = app
            .pay("/paid", &challenge, channel.open_payload_with(&open, PRICE))
            .await;
        assert_eq!(reply.status, 402, "{what}: {}", reply.text());
    }
    // A payer without the tokens it deposits: its open would revert.
    let unfunded = PrivateKeySigner::random();
    let broke = Channel::new(
        unfunded,
        channel.chain_id,
        channel.escrow,
        channel.payee,
        channel.token,
    );
    let open = broke.sponsored_transaction(broke.open_calls(10 * PRICE), |_| {});
    let reply = app
        .pay("/paid", &challenge, broke.open_payload_with(&open, PRICE))
        .await;
    assert_eq!(reply.status, 402, "{}", reply.text());
    assert!(reply.text().contains("holds"), "{}", reply.text());
    // A server that does not sponsor refuses the envelope.
    let plain = chain.app();
    let plain_challenge = plain.challenge("/paid").await;
    let open = channel.sponsored_transaction(calls.clone(), |_| {});
    let reply = plain
        .pay(
            "/paid",
            &plain_challenge,
            channel.open_payload_with(&open, PRICE),
        )
        .await;
    assert_eq!(reply.status, 402, "{}", reply.text());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        chain.balance(fee_payer.address()).await,
        sponsor_before,
        "the sponsor paid nothing"
    );
    assert!(
        chain.read(channel.id).await.payer.is_zero(),
        "no refused open reached the chain"
    );
}

#[tokio::test]
async fn past_the_sponsor_budget_an_open_answers_503() {
    let chain = Chain::start().await;
    // One open's worst fee (2.4M gas at 41 gwei: 98,400 base units) fits,
    // a second does not.
    let budget = SponsorBudget {
        max_fees: 150_000,
        window: Duration::from_secs(3600),
    };
    let (app, _) = sponsoring_app(&chain, budget).await;
    let challenge = app.challenge("/paid").await;
    for (i, expected) in [200, 503].into_iter().enumerate() {
        let channel = chain.channel().await;
        let open = channel.sponsored_transaction(channel.open_calls(10 * PRICE), |_| {});
        let reply = app
            .pay("/paid", &challenge, channel.open_payload_with(&open, PRICE))
            .await;
        assert_eq!(reply.status, expected, "open {i}: {}", reply.text());
    }
}
