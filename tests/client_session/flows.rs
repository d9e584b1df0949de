//! The client's flows against an app offering `charge` and `session`.

use alloy::primitives::{B256, hex};
use futures_util::StreamExt as _;
use serde_json::Value;
use tower_mpp::client::{
    ClientError, FileBook, PaymentExt, PolicyViolation, PrivateKeySigner, ReceiptExt, SessionEvent,
    SpendingPolicy, TempoSessionProvider, WithPolicy,
};
use tower_mpp::store::MemoryChannelStore;

use crate::common::{App, Chain, PRICE, REALM};
use crate::rpc_proxy::RpcProxy;

/// A funded payer's provider, trusting the test app's realm.
async fn payer(chain: &Chain) -> PrivateKeySigner {
    chain.anvil.funded_payer(100_000_000).await
}

fn policy() -> SpendingPolicy {
    SpendingPolicy::new().allow_realm(REALM)
}

/// The payee's and the payer's shares of the close transaction (the
/// escrow's two transfers), sorted.
async fn close_transfers(chain: &Chain, hash: &str) -> Vec<u128> {
    let receipt: Value = chain
        .anvil
        .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await;
    assert_eq!(receipt["status"], "0x1");
    let topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    let escrow = format!("0x{:0>64}", hex::encode(chain.escrow));
    let mut amounts: Vec<u128> = receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|log| log["topics"][0] == topic && log["topics"][1] == escrow)
        .map(|log| {
            u128::from_str_radix(log["data"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .collect();
    amounts.sort_unstable();
    amounts
}

/// Ten requests on a deposit of four: the first opens, the fifth and the
/// ninth top up by four (the configured deposit), the others send vouchers
/// with no chain call; the close pays the server exactly ten prices and
/// returns the rest.
#[tokio::test(flavor = "multi_thread")]
async fn requests_paid_with_vouchers_top_ups_and_a_close_that_settles_exactly() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let base = app.serve().await;
    let provider = TempoSessionProvider::new(payer(&chain).await).deposit(4 * PRICE);
    let paying = provider.clone().with_policy(policy());
    let client = reqwest::Client::new();
    let url = format!("{base}/paid");
    let mut chain_calls = Vec::new();
    for i in 1..=10u128 {
        // Only session challenges: the client pays sessions.
        let response = client
            .get(&url)
            .send_with_payment(&paying)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(response.status(), 200, "request {i}");
        let receipt = response.payment_receipt().unwrap().unwrap();
        assert_eq!(receipt.extra["spent"], (i * PRICE).to_string());
        chain_calls.push(proxy.take_calls().len());
    }
    let calls_of = |i: usize| chain_calls[i - 1];
    assert!(calls_of(1) > 0, "the open went on chain");
    for i in [2, 3, 4, 6, 7, 8, 10] {
        assert_eq!(calls_of(i), 0, "request {i} paid with a voucher only");
    }
    assert!(
        calls_of(5) > 0 && calls_of(9) > 0,
        "top-ups: {chain_calls:?}"
    );
    let id: B256 = provider
        .channel(&app.challenge("/paid").await)
        .unwrap()
        .expect("the channel is in the book")
        .channel_id;
    assert_eq!(chain.read(id).await.deposit, 12 * PRICE);

    let receipt = provider.close(&url).await.unwrap();
    let hash = receipt.extra["txHash"].as_str().unwrap().to_owned();
    assert_eq!(
        close_transfers(&chain, &hash).await,
        [2 * PRICE, 10 * PRICE]
    );
    assert!(
        provider
            .channel(&app.challenge("/paid").await)
            .unwrap()
            .is_none(),
        "forgotten"
    );
}

/// A client restarted with the same file book goes on with its channel:
/// its next request is a voucher, not a second open.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_client_continues_its_channel_from_the_file_book() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let base = app.serve().await;
    let key = payer(&chain).await;
    let dir = std::env::temp_dir().join(format!("tower-mpp-client-session-{}", B256::random()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("channels.json");
    let url = format!("{base}/paid");
    let client = reqwest::Client::new();
    {
        let provider = TempoSessionProvider::new(key.clone())
            .deposit(10 * PRICE)
            .book(FileBook::open(&path).unwrap())
            .with_policy(policy());
        for _ in 0..2 {
            let response = client.get(&url).send_with_payment(&provider).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    }
    proxy.take_calls();
    let restarted = TempoSessionProvider::new(key)
        .book(FileBook::open(&path).unwrap())
        .with_policy(policy());
    let response = client
        .get(&url)
        .send_with_payment(&restarted)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.payment_receipt().unwrap().unwrap();
    assert_eq!(receipt.extra["spent"], (3 * PRICE).to_string());
    assert_eq!(
        proxy.take_calls(),
        Vec::<String>::new(),
        "a voucher, no open"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A deposit above the provider's cap is refused before anything is
/// signed: nothing reaches the server or the chain.
#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_above_the_cap_is_refused_before_anything_is_signed() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let base = app.serve().await;
    let provider = TempoSessionProvider::new(payer(&chain).await)
        .deposit(10 * PRICE)
        .max_deposit(5 * PRICE)
        .with_policy(policy());
    let error = reqwest::Client::new()
        .get(format!("{base}/paid"))
        .send_with_payment(&provider)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::PolicyRefused(PolicyViolation::Deposit { deposit, max })
                if deposit == 10 * PRICE && max == 5 * PRICE
        ),
        "{error:?}"
    );
    assert_eq!(proxy.take_calls(), Vec::<String>::new(), "nothing was sent");
    assert_eq!(app.handled(), 0);
}

/// A metered stream of 12 words on a deposit of 5 and vouchers of one
/// price: the client answers each need for a voucher (topping up when the
/// deposit is short) and reads every word; the final receipt says 12.
#[tokio::test(flavor = "multi_thread")]
async fn a_metered_stream_is_paid_as_it_is_read_with_top_ups() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let provider = TempoSessionProvider::new(payer(&chain).await).deposit(5 * PRICE);
    let paying = provider.clone().with_policy(policy());
    let response = reqwest::Client::new()
        // One item per need, so each need is one voucher.
        .get(format!("{base}/stream?n=12&wait=30&ahead=1&low=0"))
        .send_with_payment(&paying)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = provider.events(response);
    let (mut words, mut vouchers, mut top_ups) = (Vec::new(), 0, 0);
    while let Some(event) = events.next().await {
        match event.unwrap() {
            SessionEvent::Message(word) => words.push(word),
            SessionEvent::Paid { top_up, .. } => {
                vouchers += 1;
                top_ups += usize::from(top_up.is_some());
            }
            SessionEvent::Receipt(receipt) => {
                assert_eq!(receipt.extra["spent"], (12 * PRICE).to_string());
            }
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("word-{i}")).collect();
    assert_eq!(words, expected);
    assert_eq!(
        vouchers, 11,
        "the open paid the first word, a voucher each next"
    );
    assert_eq!(top_ups, 2, "5 + 5 + 5 covers 12");
    assert!(events.receipt().is_some());
}

/// A channel the server no longer serves (closed on its side) answers the
/// next voucher `410`: the client forgets it, and the request after opens
/// a new channel and is paid.
#[tokio::test(flavor = "multi_thread")]
async fn a_channel_the_server_no_longer_knows_is_forgotten_and_reopened() {
    use tower_mpp::store::ChannelUpdate;
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let provider = TempoSessionProvider::new(payer(&chain).await).deposit(10 * PRICE);
    let paying = provider.clone().with_policy(policy());
    let client = reqwest::Client::new();
    let url = format!("{base}/paid");
    let response = client.get(&url).send_with_payment(&paying).await.unwrap();
    assert_eq!(response.status(), 200);
    let challenge = app.challenge("/paid").await;
    let first = provider.channel(&challenge).unwrap().unwrap();
    assert!(first.confirmed, "the server accepted the open");
    app.session
        .channel_store()
        .update(first.channel_id, ChannelUpdate::Finalized { settled: 0 })
        .await
        .unwrap();
    let response = client.get(&url).send_with_payment(&paying).await.unwrap();
    assert_eq!(response.status(), 410);
    assert!(provider.channel(&challenge).unwrap().is_none(), "forgotten");
    let response = client.get(&url).send_with_payment(&paying).await.unwrap();
    assert_eq!(response.status(), 200);
    let second = provider.channel(&challenge).unwrap().unwrap();
    assert_ne!(second.channel_id, first.channel_id, "a new channel");
}

/// Hands each new connection to the next of `backends` in turn; how many
/// each got.
async fn round_robin(
    backends: Vec<std::net::SocketAddr>,
) -> (String, std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counts = std::sync::Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let seen = counts.clone();
    tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let i = next % backends.len();
            next += 1;
            seen[i].fetch_add(1, Ordering::SeqCst);
            let backend = backends[i];
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{address}"), counts)
}

/// Two instances share Redis behind a round-robin proxy: the stream runs
/// on the first, and the client's vouchers (posted on a second connection
/// while the first carries the stream) reach the second. The first learns
/// of them through Redis pub/sub alone (its stores' fallback wake is an
/// hour), and the stream completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_on_one_instance_is_paid_through_another_sharing_redis() {
    use std::sync::atomic::Ordering;
    use tower_mpp::store::{RedisChannelStore, RedisStore};
    let server = tokio::task::spawn_blocking(crate::redis_server::RedisServer::start)
        .await
        .unwrap();
    let chain = Chain::start().await;
    let mut addresses = Vec::new();
    let mut apps = Vec::new();
    for _ in 0..2 {
        let redis = RedisStore::builder(server.url())
            .prefix("rr:")
            .connect()
            .await
            .unwrap();
        let store =
            RedisChannelStore::new(&redis).watch_fallback(std::time::Duration::from_secs(3600));
        let app = App::new(&chain, chain.session(&chain.anvil.url, store));
        let base = app.serve().await;
        addresses.push(base.trim_start_matches("http://").parse().unwrap());
        apps.push(app);
    }
    let (proxy, counts) = round_robin(addresses).await;
    let provider = TempoSessionProvider::new(payer(&chain).await).deposit(100 * PRICE);
    let paying = provider.clone().with_policy(policy());
    let response = reqwest::Client::new()
        .get(format!("{proxy}/stream?n=6&wait=30"))
        .send_with_payment(&paying)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = provider.events(response);
    let mut words = 0;
    while let Some(event) = events.next().await {
        if let SessionEvent::Message(_) = event.unwrap() {
            words += 1;
        }
    }
    assert_eq!(words, 6);
    assert_eq!(
        events.receipt().unwrap().extra["spent"],
        (6 * PRICE).to_string()
    );
    assert!(
        counts[1].load(Ordering::SeqCst) >= 1,
        "the vouchers went to the second instance"
    );
    drop(server);
}
