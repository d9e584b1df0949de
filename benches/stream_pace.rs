//! Items per second a client sees from a metered SSE stream when it pays
//! as the peer session clients do (one voucher for exactly what each
//! `payment-need-voucher` asks, posted and awaited before it reads on) and
//! sits `latency` away (it waits that long before each voucher lands).
//!
//! The server is an axum app on a loopback socket, so it writes while the
//! client is busy paying. Two servers' settings: `per item` (a need asks
//! for one more item, only when the funds are used up: what every stream
//! did before needs asked ahead) and `ahead` (the defaults). Two handlers:
//! `fast` (items as fast as they are read) and `100/s` (one item every
//! 10 ms, an LLM's pace). It prints a table; nothing is asserted.
//!
//! ```text
//! cargo bench --bench stream_pace --features tempo,axum
//! ```

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};
use tower_mpp::axum::Payment;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price};
use tower_mpp::protocol::{Challenge, Credential, parse_challenges};
use tower_mpp::store::{Channel, MemoryChannelStore};
use tower_mpp::stream::MeteredSse;
use tower_mpp::tempo::session::{TempoSession, voucher_signing_hash};

const CHAIN_ID: u64 = 1337;
const ESCROW: Address = Address::repeat_byte(0xe5);
const PRICE: u128 = 1_000;
/// Items per stream.
const ITEMS: usize = 200;

#[derive(serde::Deserialize)]
struct Pace {
    /// Items per second, 0 for as fast as they are read.
    rate: u64,
    /// `per-item` or `ahead`.
    mode: String,
}

async fn stream(payment: Payment, Query(q): Query<Pace>) -> Result<MeteredSse, PaymentRejection> {
    let mut metered = payment.meter(Price::base_units(PRICE)).await?;
    if q.mode == "per-item" {
        metered = metered
            .ask_ahead(1)
            .ask_ahead_time(Duration::ZERO)
            .low_water(0)
            .low_water_time(Duration::ZERO);
    }
    let words = futures_util::stream::iter(0..ITEMS).map(|i| format!("w{i}"));
    Ok(match 1_000_000u64.checked_div(q.rate) {
        None => metered.sse(words),
        Some(micros) => {
            let ticks = ticks(Duration::from_micros(micros));
            metered.sse(words.zip(ticks).map(|(word, ())| word))
        }
    })
}

/// A tick every `every`, the first at once.
fn ticks(every: Duration) -> impl futures_core::Stream<Item = ()> + Send {
    futures_util::stream::unfold(tokio::time::interval(every), |mut interval| async move {
        interval.tick().await;
        Some(((), interval))
    })
}

/// A payer's channel, stored as opened with nothing vouched.
struct Payer {
    signer: PrivateKeySigner,
    id: B256,
}

impl Payer {
    fn voucher(&self, challenge: &Challenge, amount: u128) -> String {
        let hash = voucher_signing_hash(CHAIN_ID, ESCROW, self.id, amount);
        let signature = self.signer.sign_hash_sync(&hash).unwrap();
        let payload = json!({"action": "voucher", "channelId": self.id.to_string(),
            "cumulativeAmount": amount.to_string(),
            "signature": alloy::primitives::hex::encode_prefixed(signature.as_bytes())});
        let Value::Object(payload) = payload else {
            unreachable!()
        };
        Credential::new(challenge.clone(), payload)
            .to_header()
            .unwrap()
    }
}

/// The app on a loopback port: its base URL and the session's store.
async fn serve() -> (String, TempoSession) {
    let session = TempoSession::builder()
        .payee_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
        .rpc_url("http://127.0.0.1:9")
        .chain_id(CHAIN_ID)
        .escrow(ESCROW.to_string())
        .channel_store(MemoryChannelStore::new())
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm("bench.example.com")
        .secret("a bench secret of at least thirty-two bytes")
        .method(session.clone())
        .build()
        .unwrap();
    let router = Router::new()
        .route("/stream", get(stream).post(stream))
        .layer(PaymentLayer::new(payments));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, session)
}

/// One stream read to its receipt by a client `latency` away: the items
/// read, the vouchers posted, and how long it took.
async fn run(
    base: &str,
    session: &TempoSession,
    path: &str,
    latency: Duration,
) -> (usize, usize, Duration) {
    let signer = PrivateKeySigner::random();
    let payer = Payer {
        id: B256::random(),
        signer,
    };
    let channel = Channel::opened(
        payer.signer.address(),
        payer.signer.address(),
        u128::from(u64::MAX),
        0,
        Bytes::new(),
    );
    session
        .channel_store()
        .insert(payer.id, channel)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{base}{path}");
    let refused = http.get(&url).send().await.unwrap();
    let values = refused.headers().get_all("www-authenticate");
    let challenge = parse_challenges(values.iter().map(|v| v.to_str().unwrap()))
        .unwrap()
        .remove(0);
    let started = Instant::now();
    let response = http
        .get(&url)
        .header("authorization", payer.voucher(&challenge, PRICE))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut bytes = response.bytes_stream();
    let (mut buffer, mut items, mut vouchers) = (String::new(), 0, 0);
    'read: while let Some(chunk) = bytes.next().await {
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut lines = block.lines();
            let name = lines.next().unwrap_or_default();
            let data = lines
                .next()
                .unwrap_or_default()
                .trim_start_matches("data: ");
            match name {
                "event: message" => items += 1,
                "event: payment-need-voucher" => {
                    let need: Map<String, Value> = serde_json::from_str(data).unwrap();
                    let required = need["requiredCumulative"].as_str().unwrap();
                    tokio::time::sleep(latency).await;
                    let auth = payer.voucher(&challenge, required.parse().unwrap());
                    let status = http.post(&url).header("authorization", auth).send();
                    assert_eq!(status.await.unwrap().status(), 204);
                    vouchers += 1;
                }
                "event: payment-receipt" => break 'read,
                _ => {}
            }
        }
    }
    (items, vouchers, started.elapsed())
}

#[tokio::main]
async fn main() {
    let (base, session) = serve().await;
    println!("| producer | client latency | settings | items/s | vouchers for {ITEMS} items |");
    println!("| --- | --- | --- | --- | --- |");
    for (rate, producer) in [(0, "fast"), (100, "100/s")] {
        for latency in [50, 100] {
            for mode in ["per-item", "ahead"] {
                let path = format!("/stream?rate={rate}&mode={mode}");
                let (items, vouchers, took) =
                    run(&base, &session, &path, Duration::from_millis(latency)).await;
                assert_eq!(items, ITEMS);
                let per_second = f64::from(u32::try_from(items).unwrap()) / took.as_secs_f64();
                println!("| {producer} | {latency} ms | {mode} | {per_second:.0} | {vouchers} |");
            }
        }
    }
}
