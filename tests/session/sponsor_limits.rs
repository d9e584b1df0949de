//! What a sponsored session may cost the sponsor: each transaction is
//! counted once against its budget, a top-up that would revert is refused
//! before co-signing, and deposits and top-ups below the minimums are
//! refused before anything is signed or sent.

use std::time::Duration;

use alloy::primitives::hex;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tower_mpp::protocol::Challenge;
use tower_mpp::store::{MemoryChannelStore, RedisStore};
use tower_mpp::tempo::SponsorBudget;
use tower_mpp::tempo::session::ITempoStreamChannel;

use crate::common::{App, Chain, PRICE, send_raw};
use crate::sponsored::sponsoring_app;
use crate::support::anvil::PATH_USD;
use crate::support::redis_server::RedisServer;
use crate::support::session_payer::{self, Channel};

/// A sponsored `topUp` payload carrying `transaction`.
fn top_up_with(
    channel: &Channel,
    transaction: &str,
    amount: u128,
) -> serde_json::Map<String, serde_json::Value> {
    serde_json::json!({
        "action": "topUp", "type": "transaction", "channelId": channel.id.to_string(),
        "transaction": transaction, "additionalDeposit": amount.to_string(),
    })
    .as_object()
    .unwrap()
    .clone()
}

/// A sponsored open of `channel` through `app`, then a sponsored top-up
/// of it: the top-up's payload, to replay.
async fn open_and_top_up(
    app: &App,
    challenge: &Challenge,
    channel: &Channel,
) -> serde_json::Map<String, serde_json::Value> {
    let open = channel.sponsored_transaction(channel.open_calls(10 * PRICE), |_| {});
    let reply = app
        .pay("/paid", challenge, channel.open_payload_with(&open, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let top_up = channel.sponsored_transaction(channel.top_up_calls(5 * PRICE), |_| {});
    let payload = top_up_with(channel, &top_up, 5 * PRICE);
    let reply = app.manage("/paid", challenge, payload.clone()).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    payload
}

/// `payload` replayed ten times at `app` tops up nothing and leaves the
/// budget room for an honest sponsored open.
async fn replays_cost_nothing_more(
    chain: &Chain,
    app: &App,
    challenge: &Challenge,
    payload: &serde_json::Map<String, serde_json::Value>,
) {
    for i in 0..10 {
        let reply = app.manage("/paid", challenge, payload.clone()).await;
        assert_ne!(reply.status, 204, "replay {i} topped up again");
        assert_ne!(reply.status, 503, "replay {i}: {}", reply.text());
    }
    let honest = chain.channel().await;
    let open = honest.sponsored_transaction(honest.open_calls(10 * PRICE), |_| {});
    let reply = app
        .pay("/paid", challenge, honest.open_payload_with(&open, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// One top-up credential replayed ten times costs the budget one
/// transaction: the next honest sponsored open is still co-signed.
#[tokio::test]
async fn a_replayed_sponsored_top_up_is_counted_once() {
    let chain = Chain::start().await;
    // Each sponsored transaction's worst fee is 98,400 base units (2.4M
    // gas at 41 gwei): room for three, not for thirteen.
    let budget = SponsorBudget {
        max_fees: 300_000,
        window: Duration::from_secs(3600),
    };
    let (app, _) = sponsoring_app(&chain, budget).await;
    let challenge = app.challenge("/paid").await;
    let channel = chain.channel().await;
    let payload = open_and_top_up(&app, &challenge, &channel).await;
    replays_cost_nothing_more(&chain, &app, &challenge, &payload).await;
    assert_eq!(chain.read(channel.id).await.deposit, 15 * PRICE);
}

/// Two instances counting one budget in Redis: a top-up co-signed by the
/// first, replayed ten times at the second, is still counted once.
#[tokio::test]
async fn a_replay_at_another_instance_is_not_counted_again() {
    let chain = Chain::start().await;
    let redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let store = RedisStore::builder(redis.url()).connect().await.unwrap();
    let fee_payer = PrivateKeySigner::random();
    chain
        .anvil
        .fund(fee_payer.address(), PATH_USD, 10_000_000)
        .await;
    let budget = SponsorBudget {
        max_fees: 300_000,
        window: Duration::from_secs(1_000_000_000),
    };
    let instance = || {
        let session = chain
            .session_builder(&chain.anvil.url, MemoryChannelStore::new())
            .fee_payer_key(hex::encode_prefixed(fee_payer.to_bytes()))
            .sponsor_budget(budget)
            .sponsor_budget_store(store.clone())
            .build()
            .unwrap();
        App::new(&chain, session)
    };
    let (first, second) = (instance(), instance());
    let challenge = first.challenge("/paid").await;
    let channel = chain.channel().await;
    let payload = open_and_top_up(&first, &challenge, &channel).await;

    let challenge = second.challenge("/paid").await;
    replays_cost_nothing_more(&chain, &second, &challenge, &payload).await;
}

/// A sponsored top-up that would revert on chain (no allowance for it, or
/// a channel the payer asked the escrow to close behind the server's back)
/// is refused before it is co-signed: the sponsor pays nothing.
#[tokio::test]
async fn a_sponsored_top_up_that_would_revert_is_refused_before_co_signing() {
    let chain = Chain::start().await;
    let (app, fee_payer) = sponsoring_app(&chain, SponsorBudget::default()).await;
    let challenge = app.challenge("/paid").await;
    let channel = chain.channel().await;
    let open = channel.sponsored_transaction(channel.open_calls(10 * PRICE), |_| {});
    let reply = app
        .pay("/paid", &challenge, channel.open_payload_with(&open, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The fee of the open is paid when it is mined.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sponsor_before = chain.balance(fee_payer.address()).await;

    // The open's approve was used up: a bare topUp has no allowance.
    let bare = channel.top_up_calls(5 * PRICE).split_off(1);
    let top_up = channel.sponsored_transaction(bare, |_| {});
    let reply = app
        .manage(
            "/paid",
            &challenge,
            top_up_with(&channel, &top_up, 5 * PRICE),
        )
        .await;
    assert_eq!(reply.status, 402, "{}", reply.text());
    assert!(
        reply.text().contains("allows the escrow"),
        "{}",
        reply.text()
    );

    // The payer asks the escrow to close; the server's store still has the
    // channel open.
    let tx = channel.transaction(vec![session_payer::call(
        chain.escrow,
        ITempoStreamChannel::requestCloseCall {
            channelId: channel.id,
        }
        .abi_encode(),
    )]);
    send_raw(&chain, &tx).await;
    let top_up = channel.sponsored_transaction(channel.top_up_calls(5 * PRICE), |_| {});
    let reply = app
        .manage(
            "/paid",
            &challenge,
            top_up_with(&channel, &top_up, 5 * PRICE),
        )
        .await;
    assert!(!reply.status.is_success(), "{}", reply.text());

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(chain.read(channel.id).await.deposit, 10 * PRICE);
    assert_eq!(
        chain.balance(fee_payer.address()).await,
        sponsor_before,
        "the sponsor paid nothing for the refused top-ups"
    );
}

/// A one-unit open or top-up is refused before anything is signed or
/// sent, sponsored or not.
#[tokio::test]
async fn one_unit_opens_and_top_ups_are_refused() {
    let chain = Chain::start().await;
    let (app, fee_payer) = sponsoring_app(&chain, SponsorBudget::default()).await;
    let sponsor_before = chain.balance(fee_payer.address()).await;
    let challenge = app.challenge("/paid").await;
    let channel = chain.channel().await;
    let sponsored = channel.sponsored_transaction(channel.open_calls(1), |_| {});
    let reply = app
        .manage(
            "/paid",
            &challenge,
            channel.open_payload_with(&sponsored, 0),
        )
        .await;
    assert_eq!(reply.status, 402, "sponsored: {}", reply.text());
    assert!(reply.text().contains("minimum"), "{}", reply.text());
    let reply = app
        .manage("/paid", &challenge, channel.open_payload(1, 0))
        .await;
    assert_eq!(reply.status, 402, "unsponsored: {}", reply.text());
    assert!(
        chain.read(channel.id).await.payer.is_zero(),
        "nothing opened"
    );

    let reply = app
        .manage("/paid", &challenge, channel.open_payload(10 * PRICE, 0))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    let sponsored = channel.sponsored_transaction(channel.top_up_calls(1), |_| {});
    let reply = app
        .manage("/paid", &challenge, top_up_with(&channel, &sponsored, 1))
        .await;
    assert_eq!(reply.status, 402, "sponsored: {}", reply.text());
    let reply = app
        .manage("/paid", &challenge, channel.top_up_payload(1))
        .await;
    assert_eq!(reply.status, 402, "unsponsored: {}", reply.text());
    assert!(reply.text().contains("minimum"), "{}", reply.text());

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(chain.read(channel.id).await.deposit, 10 * PRICE);
    assert_eq!(chain.balance(fee_payer.address()).await, sponsor_before);
}
