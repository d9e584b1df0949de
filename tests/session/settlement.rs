//! Settlement on a schedule, and a node that is down at open or at
//! settlement: 503 with nothing lost, then success.

use std::time::Duration;

use tower_mpp::store::MemoryChannelStore;
use tower_mpp::tempo::session::SettleThreshold;

use crate::common::{App, Chain, PRICE};
use crate::support::rpc_proxy::{Behaviour, RpcProxy};

/// The settler settles accepted vouchers on its schedule, and settles
/// again as more are accepted.
#[tokio::test]
async fn the_settler_settles_accepted_vouchers_on_schedule() {
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
    for i in 2..=5 {
        assert_eq!(
            app.pay("/paid", &challenge, channel.voucher_payload(i * PRICE))
                .await
                .status,
            200
        );
    }
    // Below the threshold: nothing is due.
    let report = app
        .session
        .settle_once(SettleThreshold::base_units(10 * PRICE))
        .await;
    assert!(report.settled.is_empty(), "{report:?}");
    assert_eq!(chain.read(channel.id).await.settled, 0);

    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let settler = tokio::spawn(app.session.settler(
        Duration::from_millis(300),
        SettleThreshold::ANY,
        move |r| {
            seen.lock().unwrap().push(r.clone());
        },
    ));
    wait_settled(&chain, channel.id, 5 * PRICE).await;
    for i in 6..=8 {
        assert_eq!(
            app.pay("/paid", &challenge, channel.voucher_payload(i * PRICE))
                .await
                .status,
            200
        );
    }
    wait_settled(&chain, channel.id, 8 * PRICE).await;
    settler.abort();
    assert!(reports.lock().unwrap().iter().all(|r| r.failed.is_empty()));
}

async fn wait_settled(chain: &Chain, id: alloy::primitives::B256, amount: u128) {
    for _ in 0..60 {
        if chain.read(id).await.settled == amount {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{amount} was not settled in 15 s");
}

/// The node is down at open: 503, nothing served; the same credential
/// opens once it is back. Down at settlement: the vouchers stay due and
/// settle on the next pass.
#[tokio::test]
async fn a_node_down_at_open_or_settlement_answers_503_and_loses_nothing() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let open = channel.open_payload(100 * PRICE, PRICE);

    proxy.set(Behaviour::BadGateway);
    app.pay("/paid", &challenge, open.clone())
        .await
        .assert_rejected(503, "about:blank");
    assert_eq!(app.handled(), 0);
    proxy.set(Behaviour::Forward);
    let reply = app.pay("/paid", &challenge, open).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Vouchers need no node.
    proxy.set(Behaviour::BadGateway);
    for i in 2..=4 {
        assert_eq!(
            app.pay("/paid", &challenge, channel.voucher_payload(i * PRICE))
                .await
                .status,
            200
        );
    }
    let report = app.session.settle_once(SettleThreshold::ANY).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.settled.is_empty());
    proxy.set(Behaviour::Forward);
    let report = app.session.settle_once(SettleThreshold::ANY).await;
    assert_eq!(report.settled.len(), 1, "{report:?}");
    assert_eq!(chain.read(channel.id).await.settled, 4 * PRICE);

    // A close while the node is down: 503, the final voucher kept; the
    // close may still be in flight, so settlement leaves the channel alone.
    proxy.set(Behaviour::BadGateway);
    app.manage("/paid", &challenge, channel.close_payload(4 * PRICE))
        .await
        .assert_rejected(503, "about:blank");
    proxy.set(Behaviour::Forward);
    let report = app.session.settle_once(SettleThreshold::ANY).await;
    assert_eq!(report.closing, vec![channel.id], "{report:?}");
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(4 * PRICE))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
}
