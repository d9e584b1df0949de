//! Items per second of a metered SSE stream against the same stream
//! unmetered, in one run: `GET` answered by an axum router behind
//! `PaymentLayer`, the response body read to its end in process.
//!
//! - `plain`: axum's own `Sse` of the items as `event: message`, no
//!   payment (the baseline: what a handler returns without payment);
//! - `raw`: the same events written by hand into a streamed body (a floor
//!   for any SSE framing);
//! - `metered`: the request pays with a session voucher (one signature
//!   recovery, one store update), then `Metered::sse` debits each item from
//!   the channel in the in-memory store before sending it.
//!
//! Each iteration is one request of `ITEMS` small items (a word each, as an
//! LLM's tokens), so the per-request work is spread over them as in a real
//! answer; the 402-and-voucher cost per request is measured by
//! `benches/session.rs`.
//!
//! ```text
//! cargo bench --bench stream --features tempo
//! ```

#![allow(missing_docs)] // criterion_group! makes an undocumented function

use std::convert::Infallible;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::stream;
use http::Request;
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;
use tower_mpp::axum::Payment;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price};
use tower_mpp::protocol::{Credential, parse_challenges};
use tower_mpp::store::{Channel, MemoryChannelStore};
use tower_mpp::stream::MeteredSse;
use tower_mpp::tempo::session::{TempoSession, voucher_signing_hash};

const CHAIN_ID: u64 = 1337;
const ESCROW: Address = Address::repeat_byte(0xe5);
/// Items per response.
const ITEMS: usize = 1_000;
/// Enough for every debit of the run.
const FUNDS: u128 = u128::MAX / 4;

fn words() -> impl futures_core::Stream<Item = &'static str> + Send + 'static {
    stream::iter((0..ITEMS).map(|i| ["pay", "as", "you", "go"][i % 4]))
}

async fn plain() -> Sse<impl futures_core::Stream<Item = Result<Event, Infallible>>> {
    use futures_util::StreamExt as _;
    Sse::new(words().map(|word| Ok(Event::default().event("message").data(word))))
}

async fn raw() -> Body {
    use futures_util::StreamExt as _;
    Body::from_stream(words().map(|word| {
        Ok::<_, Infallible>(bytes::Bytes::from(format!(
            "event: message\ndata: {word}\n\n"
        )))
    }))
}

async fn metered(payment: Payment) -> Result<MeteredSse, PaymentRejection> {
    Ok(payment.meter(Price::base_units(1)).await?.sse(words()))
}

/// The app, and an `Authorization` value paying `/metered` with a voucher
/// that covers the whole run (an equal voucher is an idempotent retry).
async fn app() -> (Router, String) {
    let store = MemoryChannelStore::new();
    let session = TempoSession::builder()
        .payee_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
        .rpc_url("http://127.0.0.1:9")
        .chain_id(CHAIN_ID)
        .escrow(ESCROW.to_string())
        .channel_store(store)
        .volatile_channel_store(true)
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm("bench.example.com")
        .secret("a bench secret of at least thirty-two bytes")
        .method(session.clone())
        .build()
        .unwrap();
    let router = Router::new()
        .route("/plain", get(plain))
        .route("/raw", get(raw))
        .route("/metered", get(metered))
        .layer(PaymentLayer::new(payments));

    let payer = PrivateKeySigner::random();
    let id = B256::random();
    let channel = Channel::opened(payer.address(), payer.address(), FUNDS, 0, Bytes::new());
    session.channel_store().insert(id, channel).await.unwrap();
    let response = router
        .clone()
        .oneshot(Request::get("/metered").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let values = response.headers().get_all("www-authenticate");
    let challenge = parse_challenges(values.iter().map(|v| v.to_str().unwrap()))
        .unwrap()
        .remove(0);
    let hash = voucher_signing_hash(CHAIN_ID, ESCROW, id, FUNDS);
    let signature = payer.sign_hash_sync(&hash).unwrap();
    let payload = json!({"action": "voucher", "channelId": id.to_string(),
        "cumulativeAmount": FUNDS.to_string(),
        "signature": alloy::primitives::hex::encode_prefixed(signature.as_bytes())});
    let serde_json::Value::Object(payload) = payload else {
        unreachable!()
    };
    let auth = Credential::new(challenge, payload).to_header().unwrap();
    (router, auth)
}

/// One request, its body read to the end; the bytes read.
async fn read(router: &Router, path: &str, auth: &str) -> usize {
    let request = Request::get(path)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (router, auth) = runtime.block_on(app());
    // Both streams carry the same items; the metered one adds the receipt.
    assert!(runtime.block_on(read(&router, "/metered", &auth)) > 0);

    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.bench_function("plain", |b| {
        b.iter(|| runtime.block_on(read(&router, "/plain", "")));
    });
    group.bench_function("raw", |b| {
        b.iter(|| runtime.block_on(read(&router, "/raw", "")));
    });
    group.bench_function("metered", |b| {
        b.iter(|| runtime.block_on(read(&router, "/metered", &auth)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
