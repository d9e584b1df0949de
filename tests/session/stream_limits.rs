//! What an unpaid or slow-paying metered stream may cost the server, and
//! how often it makes a paying client post: no item is pulled before the
//! channel pays for one, few streams wait per channel, a paused stream
//! keeps its connection alive, and a need asks ahead so a client that
//! answers each need with one voucher posts a few, not one per item.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tower_mpp::protocol::Challenge;
use tower_mpp::store::{RedisChannelStore, RedisStore};

use crate::common::{App, Chain, PRICE};
use crate::streaming::{Events, amount, json, open_stream, post, spent};
use crate::support::redis_server::RedisServer;
use crate::support::session_payer::{self, Channel};

/// Opens `channel` (deposit `deposit`) with one paid `/paid` request whose
/// voucher is `first`, so `first - PRICE` is left; the `/stream` challenge.
async fn open_with_left(app: &App, channel: &Channel, deposit: u128, first: u128) -> Challenge {
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(deposit, first))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    app.challenge("/stream?n=1&wait=1").await
}

/// `GET base + path` paying with a voucher of `amount` on `channel`.
async fn get_stream(
    base: &str,
    path: &str,
    challenge: &Challenge,
    channel: &Channel,
    amount: u128,
) -> reqwest::Response {
    let auth = session_payer::credential(challenge, channel.voucher_payload(amount));
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
}

/// A channel with nothing left: the stream asks for a voucher before it
/// pulls the handler's first item (an LLM does no prefill unpaid), and
/// pulls it once the voucher comes.
#[tokio::test]
async fn a_stream_on_a_channel_with_no_funds_pulls_no_item_until_paid() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let challenge = open_with_left(&app, &channel, 100 * PRICE, PRICE).await;
    let path = "/stream?n=3&wait=20";
    let response = get_stream(&base, path, &challenge, &channel, PRICE).await;
    let mut events = Events::new(response);
    let first = events.next().await.unwrap();
    assert_eq!(first.name, "payment-need-voucher", "{first:?}");
    assert_eq!(
        app.items_pulled.load(Ordering::SeqCst),
        0,
        "no item pulled for an unpaid stream"
    );
    let required = amount(&json(&first.data)["requiredCumulative"]);
    assert_eq!(
        post(&base, path, &challenge, channel.voucher_payload(required)).await,
        204
    );
    let mut words = 0;
    while let Some(event) = events.next().await {
        match event.name.as_str() {
            "message" => words += 1,
            "payment-receipt" => break,
            other => panic!("unexpected {other}: {}", event.data),
        }
    }
    assert_eq!(words, 3);
    assert_eq!(app.items_pulled.load(Ordering::SeqCst), 3);
}

/// Sixty streams at once on a channel with one unit left: one word is
/// sent, at most two are pulled, and all but a few streams end at once
/// (with the need and the receipt) instead of holding their connections
/// for the whole wait.
#[tokio::test]
async fn sixty_streams_on_one_unit_neither_pull_sixty_items_nor_all_wait() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let challenge = open_with_left(&app, &channel, 100 * PRICE, 2 * PRICE).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let (base, challenge, channel) = (base.clone(), challenge.clone(), channel.clone());
        tasks.spawn(async move {
            let path = "/stream?n=5&wait=30";
            let response = get_stream(&base, path, &challenge, &channel, 2 * PRICE).await;
            let mut events = Events::new(response);
            let mut words = 0;
            let read = async {
                while let Some(event) = events.next().await {
                    if event.name == "message" {
                        words += 1;
                    }
                }
            };
            let ended = tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .is_ok();
            (ended, words)
        });
    }
    let results = tasks.join_all().await;
    let words: usize = results.iter().map(|(_, words)| words).sum();
    let waiting = results.iter().filter(|(ended, _)| !ended).count();
    assert_eq!(words, 1, "one unit pays one word");
    let pulled = app.items_pulled.load(Ordering::SeqCst);
    assert!(pulled <= 2, "{pulled} items pulled for one paid unit");
    assert!(waiting <= 4, "{waiting} streams still waiting after 5 s");
}

/// A paused stream sends SSE comments while it waits, so that proxies do
/// not drop the idle connection; the client sees them.
#[tokio::test]
async fn a_paused_stream_sends_keep_alive_comments() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let (_, response) = open_stream(
        &base,
        &app,
        &channel,
        "n=3&wait=2&keep_alive_ms=200",
        100 * PRICE,
        PRICE,
    )
    .await;
    let mut events = Events::new(response);
    let mut names = Vec::new();
    while let Some(event) = events.next().await {
        names.push(event.name);
    }
    assert_eq!(
        names,
        ["message", "payment-need-voucher", "payment-receipt"]
    );
    let keep_alives = events.comments.iter().filter(|c| *c == ": keep-alive");
    assert!(
        keep_alives.count() >= 3,
        "keep-alives during a 2 s wait at 200 ms: {:?}",
        events.comments
    );
    assert_eq!(spent(&app, channel.id).await, PRICE);
}

/// A client that answers each need with one voucher for exactly what it
/// asks (as the peer clients do) posts a few vouchers for 150 words, not
/// one per word; no need asks beyond the deposit, and while the stream
/// waits the store's `spent` is what was sent.
#[tokio::test]
async fn a_need_asks_ahead_so_a_client_posts_a_few_vouchers_not_one_per_item() {
    let chain = Chain::start().await;
    pays_ahead(&chain, &chain.app()).await;
}

/// The same on a channel store in Redis: the early needs' vouchers and the
/// reservations given back go through the Redis script.
#[tokio::test]
async fn a_need_asks_ahead_on_a_channel_store_in_redis() {
    let server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let chain = Chain::start().await;
    let redis = RedisStore::builder(server.url())
        .prefix("ahead:")
        .connect()
        .await
        .unwrap();
    let app = App::new(
        &chain,
        chain.session(&chain.anvil.url, RedisChannelStore::new(&redis)),
    );
    pays_ahead(&chain, &app).await;
    drop(server);
}

/// 150 words paid by one voucher per need, for exactly what it asks.
async fn pays_ahead(chain: &Chain, app: &App) {
    let base = app.serve().await;
    let channel = chain.channel().await;
    let deposit = 150 * PRICE;
    let query = "n=150&wait=20";
    let path = format!("/stream?{query}");
    let (challenge, response) = open_stream(&base, app, &channel, query, deposit, PRICE).await;
    let mut events = Events::new(response);
    let (mut words, mut needs) = (0u128, 0);
    while let Some(event) = events.next().await {
        match event.name.as_str() {
            "message" => words += 1,
            "payment-need-voucher" => {
                needs += 1;
                let need = json(&event.data);
                let required = amount(&need["requiredCumulative"]);
                assert!(required <= deposit, "{need}");
                assert!(spent(app, channel.id).await <= required);
                let status = post(&base, &path, &challenge, channel.voucher_payload(required));
                assert_eq!(status.await, 204);
            }
            "payment-receipt" => {
                assert_eq!(amount(&json(&event.data)["spent"]), 150 * PRICE);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(words, 150);
    assert!(needs <= 6, "{needs} vouchers for 150 words");
    assert_eq!(spent(app, channel.id).await, 150 * PRICE);
}
