//! The attacks of a payer on the server's memory of its channels, each
//! end to end with the real escrow: a store that forgets (a restart, a
//! second store for the payee), vouchers ahead of use, a settlement racing
//! a close, and close or open credentials that bend the accounting.

use std::time::Duration;

use tower_mpp::store::MemoryChannelStore;
use tower_mpp::tempo::session::SettleThreshold;

use crate::common::{App, Chain, PRICE, field};
use crate::support::rpc_proxy::{Behaviour, RpcProxy};

/// A server whose channel store starts empty: a restart of the memory
/// store, or a second instance with a store of its own.
fn forgetful(chain: &Chain) -> App {
    App::new(
        chain,
        chain.session(&chain.anvil.url, MemoryChannelStore::new()),
    )
}

/// How many of `n` requests paid with the voucher `amount` were served.
async fn served(
    app: &App,
    challenge: &tower_mpp::protocol::Challenge,
    channel: &crate::support::session_payer::Channel,
    amount: u128,
    n: usize,
) -> usize {
    let mut served = 0;
    for _ in 0..n {
        let reply = app
            .pay("/paid", challenge, channel.voucher_payload(amount))
            .await;
        if reply.status == 200 {
            served += 1;
        }
    }
    served
}

/// The payer's own `open`, already mined and settled, presented again to
/// a store that forgot the channel: not a fresh open. Nothing it or the
/// old vouchers authorized is credit; only a higher voucher pays.
#[tokio::test]
async fn a_mined_open_presented_to_a_store_that_forgot_buys_nothing() {
    let chain = Chain::start().await;
    let first = chain.app();
    let channel = chain.channel().await;
    let challenge = first.challenge("/paid").await;
    let open = channel.open_payload(100 * PRICE, PRICE);
    let reply = first.pay("/paid", &challenge, open.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    for i in 2..=5 {
        assert_eq!(served(&first, &challenge, &channel, i * PRICE, 1).await, 1);
    }
    let report = first.session.settle_once(SettleThreshold::ANY).await;
    assert_eq!(report.settled.len(), 1, "{report:?}");
    assert_eq!(chain.read(channel.id).await.settled, 5 * PRICE);

    let restarted = forgetful(&chain);
    let reply = restarted.pay("/paid", &challenge, open).await;
    assert_ne!(reply.status, 200, "{}", reply.text());
    for i in 2..=5 {
        assert_eq!(
            served(&restarted, &challenge, &channel, i * PRICE, 1).await,
            0,
            "the voucher {i} was served again"
        );
    }
    assert_eq!(restarted.handled(), 0);
    // A voucher above what the escrow settled pays, once.
    assert_eq!(
        served(&restarted, &challenge, &channel, 6 * PRICE, 2).await,
        1
    );
}

/// After a restart of the memory store, what the payer vouched before it
/// (and was served for) is not new credit: the first voucher the
/// restarted server sees counts as spent, and only more pays.
#[tokio::test]
async fn a_restart_gives_no_credit_for_what_was_vouched_before_it() {
    let chain = Chain::start().await;
    let first = chain.app();
    let channel = chain.channel().await;
    let challenge = first.challenge("/paid").await;
    let reply = first
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(100 * PRICE, PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    for i in 2..=5 {
        assert_eq!(served(&first, &challenge, &channel, i * PRICE, 1).await, 1);
    }
    assert_eq!(chain.read(channel.id).await.settled, 0);

    let restarted = forgetful(&chain);
    // The payer's next voucher, presented again and again.
    assert_eq!(
        served(&restarted, &challenge, &channel, 6 * PRICE, 6).await,
        0
    );
    let reply = restarted
        .pay("/paid", &challenge, channel.voucher_payload(7 * PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(field(&reply, "spent"), (7 * PRICE).to_string());
    assert_eq!(restarted.handled(), 1);
}

/// A payer vouching ahead of its use is settled at what it consumed (its
/// prior voucher), never at the voucher ahead; it then closes at what it
/// used, and the payee gets exactly that.
#[tokio::test]
async fn the_settler_captures_only_what_was_consumed() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(100 * PRICE, PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Ten requests' worth vouched, one used.
    assert_eq!(served(&app, &challenge, &channel, 10 * PRICE, 1).await, 1);

    let report = app.session.settle_once(SettleThreshold::ANY).await;
    assert!(report.failed.is_empty(), "{report:?}");
    let settled = chain.read(channel.id).await.settled;
    assert!(
        settled <= 2 * PRICE,
        "settled {settled}, consumed {}",
        2 * PRICE
    );
    assert_eq!(settled, PRICE, "the prior voucher");

    let payee_before = chain.balance(chain.payee.address()).await;
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(2 * PRICE))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    let on = chain.read(channel.id).await;
    assert!(on.finalized || on.payer == alloy::primitives::Address::ZERO);
    let payee_after = chain.balance(chain.payee.address()).await;
    // The close paid the payee the rest of what was consumed, less the fee
    // it paid for its transaction (in the same token).
    assert!(
        payee_after > payee_before,
        "{payee_before} -> {payee_after}"
    );
    assert!(payee_after <= payee_before + alloy::primitives::U256::from(PRICE));
}

/// A settlement pass while the payee's close is in flight leaves the
/// channel alone: no transaction that would race the close and revert.
#[tokio::test]
async fn a_close_in_flight_is_not_raced_by_the_settler() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(100 * PRICE, PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(served(&app, &challenge, &channel, 3 * PRICE, 1).await, 1);

    proxy.set(Behaviour::Slow(Duration::from_millis(1500)));
    let close = channel.close_payload(2 * PRICE);
    let closing = {
        let auth = crate::support::session_payer::credential(&challenge, close);
        let router = app.router.clone();
        tokio::spawn(async move {
            let request = http::Request::post("/paid")
                .header("authorization", auth)
                .body(axum::body::Body::empty())
                .unwrap();
            crate::server_common::send(&router, request).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = app.session.settle_once(SettleThreshold::ANY).await;
    assert!(report.settled.is_empty(), "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.closing, vec![channel.id]);
    let reply = closing.await.unwrap();
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(chain.read(channel.id).await.settled, 0, "finalized, zeroed");
}

/// An `open` credential on a channel the server knows is a voucher like
/// any other: it rises by at least the minimum delta.
#[tokio::test]
async fn an_open_on_a_known_channel_keeps_the_minimum_delta() {
    let chain = Chain::start().await;
    let session = chain
        .session_builder(&chain.anvil.url, MemoryChannelStore::new())
        .min_voucher_delta(5 * PRICE)
        .build()
        .unwrap();
    let app = App::new(&chain, session);
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let transaction = channel.transaction(channel.open_calls(100 * PRICE));
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload_with(&transaction, 5 * PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // One unit more: below the minimum delta.
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload_with(&transaction, 6 * PRICE),
        )
        .await;
    reply.assert_rejected(402, "delta-too-small");
    assert_eq!(app.handled(), 1);
}

/// A close voucher below what was spent is refused and changes nothing:
/// the channel goes on serving.
#[tokio::test]
async fn a_close_below_what_was_spent_leaves_the_channel_serving() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(100 * PRICE, PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    for i in 2..=3 {
        assert_eq!(served(&app, &challenge, &channel, i * PRICE, 1).await, 1);
    }
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(PRICE))
        .await;
    reply.assert_rejected(402, "delta-too-small");
    assert_eq!(served(&app, &challenge, &channel, 4 * PRICE, 1).await, 1);
}
