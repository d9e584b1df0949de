//! A client that hangs up while its channel's open or top-up transaction
//! is being broadcast (the node slowed by the fault proxy): the broadcast
//! runs to its end and the server records the channel, so the client's
//! next voucher is accepted.

use std::time::{Duration, Instant};

use tower_mpp::store::MemoryChannelStore;

use crate::common::{App, Chain, PRICE};
use crate::support::rpc_proxy::{Behaviour, RpcProxy};

/// Waits until the escrow holds `deposit` for the channel `id`.
async fn deposit_reaches(chain: &Chain, id: alloy::primitives::B256, deposit: u128) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while chain.read(id).await.deposit != deposit {
        assert!(
            Instant::now() < deadline,
            "the deposit never reached {deposit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_during_open_or_top_up_keeps_its_channel() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let deposit = 100_000;

    proxy.set(Behaviour::Slow(Duration::from_millis(1500)));
    let open = app.pay("/paid", &challenge, channel.open_payload(deposit, PRICE));
    assert!(
        tokio::time::timeout(Duration::from_millis(400), open)
            .await
            .is_err(),
        "the client was meant to hang up first"
    );
    proxy.set(Behaviour::Forward);
    deposit_reaches(&chain, channel.id, deposit).await;
    // Give the server the moment it needs to record what the node said.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = app
        .pay("/paid", &challenge, channel.voucher_payload(2 * PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    proxy.set(Behaviour::Slow(Duration::from_millis(1500)));
    let top_up = app.manage("/paid", &challenge, channel.top_up_payload(50_000));
    assert!(
        tokio::time::timeout(Duration::from_millis(400), top_up)
            .await
            .is_err()
    );
    proxy.set(Behaviour::Forward);
    deposit_reaches(&chain, channel.id, deposit + 50_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A voucher above the old deposit: the top-up was recorded.
    let reply = app
        .manage(
            "/paid",
            &challenge,
            channel.voucher_payload(deposit + 10_000),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
}
