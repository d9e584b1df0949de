//! Concurrent requests on one channel count exactly: in one instance
//! (memory), across two instances sharing Redis, and across a restart; a
//! voucher costs no RPC call; the Redis script agrees with the Rust
//! transitions on random updates.

use alloy::primitives::{Address, B256, Bytes};
use axum::body::Body;
use http::Request;
use tower::ServiceExt as _;
use tower_mpp::store::{
    Channel, ChannelStore, ChannelUpdate, MemoryChannelStore, RedisChannelStore, RedisStore,
    SignedVoucher,
};
use tower_mpp::tempo::session::SettleThreshold;

use crate::common::{App, Chain, PRICE, field};
use crate::support::redis_server::RedisServer;
use crate::support::rpc_proxy::RpcProxy;
use crate::support::session_payer;

/// `n` requests at once, spread over `apps` in turn, each paying with
/// `authorization`; the statuses.
async fn concurrently(apps: &[&App], authorization: &str, n: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let request = Request::get("/paid")
            .header("authorization", authorization)
            .body(Body::empty())
            .unwrap();
        tasks.spawn(apps[i % apps.len()].router.clone().oneshot(request));
    }
    tasks
        .join_all()
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect()
}

/// 100 requests at once on one channel whose voucher covers exactly 100:
/// all served, the 101st refused, and no voucher touched the chain.
#[tokio::test]
async fn a_hundred_concurrent_requests_on_one_channel_count_exactly() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    // The open pays one request; the voucher covers 100 more.
    let reply = app
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(500 * PRICE, 101 * PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!proxy.take_calls().is_empty(), "the open used the chain");

    let auth = session_payer::credential(&challenge, channel.voucher_payload(101 * PRICE));
    let statuses = concurrently(&[&app], &auth, 100).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    app.pay("/paid", &challenge, channel.voucher_payload(101 * PRICE))
        .await
        .assert_rejected(402, "insufficient-balance");
    // Rising vouchers, one request each.
    for i in 102..=120 {
        let reply = app
            .pay("/paid", &challenge, channel.voucher_payload(i * PRICE))
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(field(&reply, "spent"), (i * PRICE).to_string());
    }
    assert_eq!(app.handled(), 120);
    assert_eq!(
        proxy.take_calls(),
        Vec::<String>::new(),
        "no RPC call per voucher"
    );
}

async fn redis_session_app(chain: &Chain, url: &str, prefix: &str) -> App {
    let redis = RedisStore::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .unwrap();
    App::new(
        chain,
        chain.session(&chain.anvil.url, RedisChannelStore::new(&redis)),
    )
}

/// Two instances sharing Redis serve one channel: 100 requests at once,
/// half at each, count exactly; an instance started later (a restart)
/// finds every voucher and debit.
#[tokio::test]
async fn two_instances_sharing_redis_count_exactly_and_a_restart_loses_nothing() {
    let server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let chain = Chain::start().await;
    let first = redis_session_app(&chain, &server.url(), "s:").await;
    let second = redis_session_app(&chain, &server.url(), "s:").await;
    let channel = chain.channel().await;
    let challenge = first.challenge("/paid").await;
    let reply = first
        .pay(
            "/paid",
            &challenge,
            channel.open_payload(500 * PRICE, 101 * PRICE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let auth = session_payer::credential(&challenge, channel.voucher_payload(101 * PRICE));
    let statuses = concurrently(&[&first, &second], &auth, 100).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(first.handled() + second.handled(), 101);
    second
        .pay("/paid", &challenge, channel.voucher_payload(101 * PRICE))
        .await
        .assert_rejected(402, "insufficient-balance");

    drop((first, second));
    let restarted = redis_session_app(&chain, &server.url(), "s:").await;
    let reply = restarted
        .manage("/paid", &challenge, channel.voucher_payload(101 * PRICE))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(field(&reply, "spent"), (101 * PRICE).to_string());
    let reply = restarted
        .pay("/paid", &challenge, channel.voucher_payload(102 * PRICE))
        .await;
    assert_eq!(reply.status, 200);
    // The restarted instance settles what the others accepted.
    let report = restarted.session.settle_once(SettleThreshold::ANY).await;
    assert_eq!(report.settled.len(), 1, "{report:?}");
    assert_eq!(chain.read(channel.id).await.settled, 102 * PRICE);
}

/// The Redis script and the Rust transitions agree on every result of
/// random updates (amounts near `u128::MAX` included).
#[tokio::test]
async fn the_redis_script_agrees_with_the_transitions() {
    let server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let redis = RedisStore::builder(server.url())
        .prefix("d:")
        .connect()
        .await
        .unwrap();
    let (memory, shared) = (MemoryChannelStore::new(), RedisChannelStore::new(&redis));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let signer = Address::repeat_byte(0x51);
    for round in 0..30u8 {
        let id = B256::repeat_byte(round);
        let huge = next(2) == 0;
        let scale: u128 = if huge { u128::MAX / 20_000 } else { 1 };
        let deposit = u128::from(next(10_000)) * scale;
        let channel = Channel::opened(signer, signer, deposit, 0, Bytes::from_static(&[1]));
        assert_eq!(
            memory.insert(id, channel.clone()).await.unwrap(),
            shared.insert(id, channel).await.unwrap()
        );
        for step in 0..40u32 {
            let update = match next(12) {
                8 => ChannelUpdate::Release {
                    amount: u128::from(next(900)) * scale,
                    held: u128::from(next(300)) * scale,
                },
                9 => ChannelUpdate::Hold {
                    cost: u128::from(next(600)) * scale,
                    reported: u128::from(next(300)) * scale,
                    hold: u128::from(next(300)) * scale,
                },
                10 => ChannelUpdate::Close {
                    amount: u128::from(next(12_000)) * scale,
                    until: next(2_000_000_000),
                },
                0..=4 => ChannelUpdate::Pay {
                    voucher: (next(3) != 0).then(|| SignedVoucher {
                        amount: u128::from(next(12_000)) * scale,
                        signature: Bytes::from(step.to_be_bytes().to_vec()),
                        signer: if next(10) == 0 { Address::ZERO } else { signer },
                    }),
                    min_delta: u128::from(next(100)) * scale,
                    cost: u128::from(next(600)) * scale,
                },
                5 => ChannelUpdate::Deposit(u128::from(next(15_000)) * scale),
                6 => ChannelUpdate::Settled(u128::from(next(5_000)) * scale),
                _ if next(10) == 0 => ChannelUpdate::CloseRequested,
                _ => ChannelUpdate::Settled(0),
            };
            let ours = memory.update(id, update.clone()).await.unwrap();
            let theirs = shared.update(id, update.clone()).await.unwrap();
            assert_eq!(ours, theirs, "round {round} step {step}: {update:?}");
        }
        assert_eq!(memory.get(id).await.unwrap(), shared.get(id).await.unwrap());
    }
    assert_eq!(
        shared
            .update(B256::with_last_byte(0xee), ChannelUpdate::CloseRequested)
            .await
            .unwrap(),
        None
    );
    let mut open = shared.open_channels().await.unwrap();
    open.sort();
    assert_eq!(open.len(), 30);
}
