//! Metered SSE streams over real HTTP: each word debited before it is sent;
//! a pause for a voucher that arrives as a body-less POST (at the same
//! instance, or at another sharing Redis), a top-up mid-stream, a voucher
//! that never comes, a client that disconnects.

use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy::primitives::B256;
use futures_util::StreamExt as _;
use serde_json::Value;
use tower_mpp::protocol::Challenge;
use tower_mpp::store::{MemoryChannelStore, RedisChannelStore, RedisStore};

use crate::common::{App, Chain, PRICE};
use crate::support::redis_server::RedisServer;
use crate::support::rpc_proxy::RpcProxy;
use crate::support::session_payer::{self, Channel};

/// One SSE event: its name and data.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) data: String,
}

/// Reads the events of an SSE response as they come.
pub(crate) struct Events {
    bytes: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
    /// Comment lines seen (`: keep-alive`), which are no events.
    pub(crate) comments: Vec<String>,
}

impl Events {
    pub(crate) fn new(response: reqwest::Response) -> Self {
        Self {
            bytes: response.bytes_stream().boxed(),
            buffer: String::new(),
            comments: Vec::new(),
        }
    }

    /// The next event, `None` at the end of the stream; fails after 20 s.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut lines = block.lines().filter(|line| !line.is_empty());
                if lines.all(|line| line.starts_with(':')) {
                    let comments = block.lines().filter(|line| !line.is_empty());
                    self.comments.extend(comments.map(str::to_owned));
                    continue;
                }
                let mut event = Event {
                    name: "message".to_owned(),
                    data: String::new(),
                };
                let mut lines = Vec::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event: ") {
                        name.clone_into(&mut event.name);
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        lines.push(data);
                    }
                }
                event.data = lines.join("\n");
                return Some(event);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.bytes.next())
                .await
                .expect("an event within 20 s")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }
}

/// Opens `channel` by `GET /stream` (a 402 first), paying the first
/// voucher `first`; the streaming response.
pub(crate) async fn open_stream(
    base: &str,
    app: &App,
    channel: &Channel,
    query: &str,
    deposit: u128,
    first: u128,
) -> (Challenge, reqwest::Response) {
    let path = format!("/stream?{query}");
    let challenge = app.challenge(&path).await;
    let auth = session_payer::credential(&challenge, channel.open_payload(deposit, first));
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "an SSE response"
    );
    assert!(
        response.headers().contains_key("payment-receipt"),
        "the request's own receipt is a header"
    );
    (challenge, response)
}

/// A body-less POST of `payload` to `base` + `path`; its status.
pub(crate) async fn post(
    base: &str,
    path: &str,
    challenge: &Challenge,
    payload: serde_json::Map<String, Value>,
) -> u16 {
    let auth = session_payer::credential(challenge, payload);
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub(crate) fn json(data: &str) -> Value {
    serde_json::from_str(data).unwrap()
}

pub(crate) fn amount(value: &Value) -> u128 {
    value.as_str().expect("an amount as text").parse().unwrap()
}

/// What the channel store holds as spent on `id`.
pub(crate) async fn spent(app: &App, id: B256) -> u128 {
    let channel = app.session.channel_store().get(id).await.unwrap();
    channel.expect("the channel is stored").state.spent
}

/// Waits until the handler's stream was dropped (at most 10 s).
async fn until_dropped(app: &App) {
    for _ in 0..100 {
        if app.streams_dropped.load(Ordering::SeqCst) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the handler's stream was never dropped");
}

/// Ten words on a channel whose vouchers cover three at a time: the stream
/// pauses with `payment-need-voucher`, each voucher posted to the same URL
/// resumes it, and the final receipt says exactly what was sent; no
/// voucher touched the chain.
#[tokio::test]
async fn a_long_stream_pauses_for_vouchers_and_resumes_on_each() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let base = app.serve().await;
    let channel = chain.channel().await;
    let (challenge, response) = open_stream(
        &base,
        &app,
        &channel,
        "n=10&wait=20&ahead=1&low=0",
        100 * PRICE,
        3 * PRICE,
    )
    .await;
    proxy.take_calls();

    let mut events = Events::new(response);
    let (mut words, mut needs) = (Vec::new(), 0);
    let mut paid = 3 * PRICE;
    while let Some(event) = events.next().await {
        match event.name.as_str() {
            "message" => words.push(event.data),
            "payment-need-voucher" => {
                needs += 1;
                let need = json(&event.data);
                assert_eq!(need["channelId"], channel.id.to_string());
                assert_eq!(amount(&need["acceptedCumulative"]), paid);
                assert_eq!(amount(&need["requiredCumulative"]), paid + PRICE);
                assert_eq!(amount(&need["deposit"]), 100 * PRICE);
                assert_eq!(
                    words.len() as u128,
                    paid / PRICE,
                    "paused exactly at the limit"
                );
                paid += 3 * PRICE;
                if needs == 1 {
                    // The stream waits before this voucher comes: only
                    // the store's notification can resume it.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let status = post(
                    &base,
                    "/stream?n=10&wait=20&ahead=1&low=0",
                    &challenge,
                    channel.voucher_payload(paid),
                )
                .await;
                assert_eq!(status, 204);
            }
            "payment-receipt" => {
                let receipt = json(&event.data);
                assert_eq!(receipt["channelId"], channel.id.to_string());
                assert_eq!(amount(&receipt["spent"]), 10 * PRICE);
                assert_eq!(amount(&receipt["acceptedCumulative"]), paid);
                assert_eq!(receipt["units"], 10);
                assert_eq!(receipt["method"], "tempo");
                break;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    let expected: Vec<String> = (0..10).map(|i| format!("word-{i}")).collect();
    assert_eq!(words, expected);
    assert_eq!(needs, 3, "one pause per three words after the first three");
    assert!(
        events.next().await.is_none(),
        "the receipt is the last event"
    );
    assert_eq!(spent(&app, channel.id).await, 10 * PRICE);
    assert_eq!(
        proxy.take_calls(),
        Vec::<String>::new(),
        "no RPC call while streaming"
    );
    until_dropped(&app).await;
}

/// A client that reads three words, is told to pay, and hangs up: the
/// handler's stream is dropped and the channel was debited for the three
/// words sent, no more.
#[tokio::test]
async fn a_client_that_disconnects_stops_the_stream_and_pays_only_what_was_sent() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let (_, response) = open_stream(
        &base,
        &app,
        &channel,
        "n=1000&wait=60&low=0",
        100 * PRICE,
        3 * PRICE,
    )
    .await;
    let mut events = Events::new(response);
    for i in 0..3 {
        let event = events.next().await.unwrap();
        assert_eq!(
            (event.name.as_str(), event.data),
            ("message", format!("word-{i}"))
        );
    }
    assert_eq!(events.next().await.unwrap().name, "payment-need-voucher");
    drop(events);
    until_dropped(&app).await;
    assert_eq!(spent(&app, channel.id).await, 3 * PRICE);
}

/// No voucher within the wait: the stream ends cleanly after it, with the
/// receipt of what was sent; the unpaid word is never sent.
#[tokio::test]
async fn a_voucher_that_never_comes_ends_the_stream_after_the_wait() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let (_, response) = open_stream(
        &base,
        &app,
        &channel,
        "n=5&wait=1&low=0",
        100 * PRICE,
        2 * PRICE,
    )
    .await;
    let mut events = Events::new(response);
    let names: Vec<String> = {
        let mut names = Vec::new();
        while let Some(event) = events.next().await {
            if event.name == "payment-receipt" {
                assert_eq!(amount(&json(&event.data)["spent"]), 2 * PRICE);
            }
            names.push(event.name);
        }
        names
    };
    assert_eq!(
        names,
        [
            "message",
            "message",
            "payment-need-voucher",
            "payment-receipt"
        ]
    );
    assert_eq!(spent(&app, channel.id).await, 2 * PRICE);
    until_dropped(&app).await;
}

/// The deposit runs out mid-stream: the need event's required amount is
/// above the deposit, the client tops up (the stream announces again with
/// the new deposit), then sends the voucher, and the stream finishes.
#[tokio::test]
async fn a_top_up_mid_stream_then_a_voucher_resumes_it() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    let path = "/stream?n=5&wait=30";
    let (challenge, response) =
        open_stream(&base, &app, &channel, "n=5&wait=30", 3 * PRICE, 3 * PRICE).await;
    let mut events = Events::new(response);
    let mut deposits = Vec::new();
    let mut words = 0;
    while let Some(event) = events.next().await {
        match event.name.as_str() {
            "message" => words += 1,
            "payment-need-voucher" => {
                let need = json(&event.data);
                let (required, deposit) = (
                    amount(&need["requiredCumulative"]),
                    amount(&need["deposit"]),
                );
                deposits.push(deposit);
                if required > deposit {
                    let status =
                        post(&base, path, &challenge, channel.top_up_payload(2 * PRICE)).await;
                    assert_eq!(status, 204);
                } else {
                    let status =
                        post(&base, path, &challenge, channel.voucher_payload(5 * PRICE)).await;
                    assert_eq!(status, 204);
                }
            }
            "payment-receipt" => {
                assert_eq!(amount(&json(&event.data)["spent"]), 5 * PRICE);
                break;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(words, 5);
    assert_eq!(
        deposits,
        [3 * PRICE, 5 * PRICE],
        "announced again after the top-up"
    );
    assert_eq!(chain.read(channel.id).await.deposit, 5 * PRICE);
}

/// Two instances share Redis; the stream runs at the first and the
/// voucher lands at the second. The first learns of it through Redis
/// pub/sub: its stores' fallback wake is an hour, so nothing else could
/// resume the stream within the test's time.
#[tokio::test]
async fn a_voucher_posted_to_another_instance_resumes_the_stream_through_redis() {
    let server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let chain = Chain::start().await;
    let instance = || async {
        let redis = RedisStore::builder(server.url())
            .prefix("stream:")
            .connect()
            .await
            .unwrap();
        let store = RedisChannelStore::new(&redis).watch_fallback(Duration::from_secs(3600));
        App::new(&chain, chain.session(&chain.anvil.url, store))
    };
    let (first, second) = (instance().await, instance().await);
    let (first_base, second_base) = (first.serve().await, second.serve().await);
    let channel = chain.channel().await;
    let path = "/stream?n=4&wait=30&low=0";
    let (challenge, response) = open_stream(
        &first_base,
        &first,
        &channel,
        "n=4&wait=30&low=0",
        100 * PRICE,
        2 * PRICE,
    )
    .await;
    let mut events = Events::new(response);
    let mut names = Vec::new();
    while let Some(event) = events.next().await {
        if event.name == "payment-need-voucher" {
            // Let the first instance read the channel and wait first, so
            // only a notification can wake it.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let status = post(
                &second_base,
                path,
                &challenge,
                channel.voucher_payload(4 * PRICE),
            )
            .await;
            assert_eq!(status, 204);
        }
        let last = event.name == "payment-receipt";
        names.push(event.name);
        if last {
            break;
        }
    }
    assert_eq!(
        names,
        [
            "message",
            "message",
            "payment-need-voucher",
            "message",
            "message",
            "payment-receipt"
        ]
    );
    assert_eq!(spent(&second, channel.id).await, 4 * PRICE);
    drop(server);
}

/// What a stream debited ahead of delivery is held, not consumed: a close
/// while the stream runs is taken at what the payer received, and the
/// escrow pays the payee exactly that.
#[tokio::test]
async fn a_close_mid_stream_counts_only_what_was_sent() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let channel = chain.channel().await;
    // A slow producer: the stream cannot run ahead of the client.
    let query = "n=1000&wait=60&low=0&delay_ms=300";
    let (challenge, response) =
        open_stream(&base, &app, &channel, query, 100 * PRICE, 50 * PRICE).await;
    let mut events = Events::new(response);
    for i in 0..3 {
        let event = events.next().await.unwrap();
        assert_eq!(
            (event.name.as_str(), event.data),
            ("message", format!("word-{i}"))
        );
    }
    assert!(
        spent(&app, channel.id).await > 3 * PRICE,
        "the stream debits ahead"
    );
    let payee = chain.balance(chain.payee.address()).await;
    let reply = app
        .manage(
            &format!("/stream?{query}"),
            &challenge,
            channel.close_payload(3 * PRICE),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    drop(events);
    let paid = chain.balance(chain.payee.address()).await;
    // The payee paid its close fee in the same token: it got at most the
    // three words, and more than nothing.
    assert!(paid > payee && paid <= payee + alloy::primitives::U256::from(3 * PRICE));
}
