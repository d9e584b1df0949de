//! Vouchers per second through the layer, against the bare signature
//! recovery as the floor, in one run:
//!
//! - `recover`: `recover_voucher_signer` of a precomputed hash (the floor:
//!   what any server must do per voucher);
//! - `hash+recover`: the EIP-712 hash, then the recovery;
//! - `layer/memory`: a `GET` paying one unit with a new, higher voucher
//!   through an axum router behind `PaymentLayer`, the `TempoSession`
//!   method and the in-memory channel store (credential parse, challenge
//!   binding, price pinning, recovery, one store update, receipt);
//! - `layer/redis`: the same with `RedisChannelStore` on a local
//!   `redis-server` (one Lua script per voucher; one request at a time, so
//!   it includes a loopback round trip);
//! - `layer/redis-x16`: 16 channels paid at once over the one multiplexed
//!   connection (redis-rs pipelines their scripts), time per voucher.
//!
//! No chain is touched: the channels are put in the store directly and the
//! method's RPC URL points at a closed port (a voucher makes no RPC call;
//! `tests/session` counts them on anvil).
//!
//! ```text
//! cargo bench --bench session --features tempo,redis
//! ```

#![allow(missing_docs)] // criterion_group! makes an undocumented function

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use serde_json::json;
use tower::ServiceExt as _;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, Credential, parse_challenges};
use tower_mpp::store::{
    Channel, ChannelStore, MemoryChannelStore, RedisChannelStore, RedisStore, SharedChannelStore,
};
use tower_mpp::tempo::session::{
    TempoSession, VoucherHasher, recover_voucher_signer, voucher_signing_hash,
};

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

const CHAIN_ID: u64 = 1337;
const PRICE: u128 = 1_000;
const ESCROW: Address = Address::repeat_byte(0xe5);

struct OneUnit;
impl StaticPrice for OneUnit {
    fn price() -> Price {
        Price::base_units(PRICE)
    }
}

/// An app with the session method over `store`, and its session.
fn app<S: ChannelStore>(store: S) -> (Router, TempoSession) {
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
        .route("/paid", get(|_: Charge<OneUnit>| async { "served" }))
        .layer(PaymentLayer::new(payments));
    (router, session)
}

async fn challenge(router: &Router) -> Challenge {
    let response = router
        .clone()
        .oneshot(Request::get("/paid").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let values = response.headers().get_all("www-authenticate");
    parse_challenges(values.iter().map(|v| v.to_str().unwrap()))
        .unwrap()
        .remove(0)
}

/// A channel of a fresh payer with a deposit for `vouchers` requests, put
/// straight into the store.
async fn channel(store: &SharedChannelStore, vouchers: u128) -> (B256, PrivateKeySigner) {
    let payer = PrivateKeySigner::random();
    let id = B256::random();
    let channel = Channel::opened(
        payer.address(),
        payer.address(),
        PRICE * (vouchers + 1),
        0,
        Bytes::new(),
    );
    store.insert(id, channel).await.unwrap();
    (id, payer)
}

/// The `Authorization` values of `n` rising vouchers after `from`.
fn vouchers(
    challenge: &Challenge,
    id: B256,
    payer: &PrivateKeySigner,
    from: u128,
    n: u128,
) -> Vec<String> {
    (from + 1..=from + n)
        .map(|i| {
            let amount = i * PRICE;
            let hash = voucher_signing_hash(CHAIN_ID, ESCROW, id, amount);
            let signature = payer.sign_hash_sync(&hash).unwrap();
            let payload = json!({"action": "voucher", "channelId": id.to_string(),
                "cumulativeAmount": amount.to_string(),
                "signature": alloy::primitives::hex::encode_prefixed(signature.as_bytes())});
            let serde_json::Value::Object(payload) = payload else {
                unreachable!()
            };
            Credential::new(challenge.clone(), payload)
                .to_header()
                .unwrap()
        })
        .collect()
}

async fn send(router: &Router, auth: &str) {
    let response = router
        .clone()
        .oneshot(
            Request::get("/paid")
                .header("authorization", auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Rising vouchers signed ahead, so that timing (and profiling) sees the
/// server's work only; refilled when used up.
struct Pool {
    challenge: Challenge,
    auths: std::vec::IntoIter<String>,
}

/// Vouchers signed per refill: more than a 3 s measurement uses.
const POOL: u128 = 60_000;

impl Pool {
    async fn new(router: &Router) -> Self {
        Self {
            challenge: challenge(router).await,
            auths: Vec::new().into_iter(),
        }
    }

    async fn next(&mut self, store: &SharedChannelStore) -> String {
        if let Some(auth) = self.auths.next() {
            return auth;
        }
        let (id, payer) = channel(store, POOL).await;
        self.auths = vouchers(&self.challenge, id, &payer, 0, POOL).into_iter();
        self.auths.next().unwrap()
    }

    /// Takes `n` vouchers (signing more first if needed).
    async fn take(&mut self, store: &SharedChannelStore, n: u64) -> Vec<String> {
        let mut taken = Vec::with_capacity(usize::try_from(n).unwrap());
        for _ in 0..n {
            taken.push(self.next(store).await);
        }
        taken
    }
}

/// Times `iters` vouchers through `router`, one at a time.
async fn time_sequential(
    router: &Router,
    store: &SharedChannelStore,
    pool: &mut Pool,
    iters: u64,
) -> Duration {
    let auths = pool.take(store, iters).await;
    let start = Instant::now();
    for auth in &auths {
        send(router, auth).await;
    }
    start.elapsed()
}

/// Times `iters` vouchers spread over `lanes` channels paid at once.
async fn time_lanes(
    router: &Router,
    store: &SharedChannelStore,
    iters: u64,
    lanes: u64,
) -> Duration {
    let challenge = challenge(router).await;
    let per_lane = iters.div_ceil(lanes);
    let mut sequences = Vec::new();
    for _ in 0..lanes {
        let (id, payer) = channel(store, u128::from(per_lane)).await;
        sequences.push(vouchers(&challenge, id, &payer, 0, u128::from(per_lane)));
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for sequence in sequences {
        let router = router.clone();
        tasks.spawn(async move {
            for auth in &sequence {
                send(&router, auth).await;
            }
        });
    }
    tasks.join_all().await;
    start.elapsed() * u32::try_from(iters).unwrap() / u32::try_from(per_lane * lanes).unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let payer = PrivateKeySigner::random();
    let id = B256::repeat_byte(7);
    let hash = voucher_signing_hash(CHAIN_ID, ESCROW, id, 5_000);
    let signature = payer.sign_hash_sync(&hash).unwrap().as_bytes();

    let mut group = c.benchmark_group("voucher");
    group.bench_function("recover", |b| {
        b.iter(|| recover_voucher_signer(std::hint::black_box(&signature), &hash).unwrap());
    });
    let hasher = VoucherHasher::new(CHAIN_ID, ESCROW);
    group.bench_function("hash+recover", |b| {
        b.iter(|| {
            let hash = hasher.hash(id, std::hint::black_box(5_000));
            recover_voucher_signer(&signature, &hash).unwrap()
        });
    });

    let (router, session) = app(MemoryChannelStore::new());
    let store = session.channel_store().clone();
    let same = runtime.block_on(async {
        let challenge = challenge(&router).await;
        let (id, payer) = channel(&store, 1_000_000_000).await;
        vouchers(&challenge, id, &payer, 1_000_000_000 - 1, 1).remove(0)
    });
    group.bench_function("layer/memory-same", |b| {
        b.iter(|| runtime.block_on(send(&router, &same)));
    });
    let mut pool = runtime.block_on(Pool::new(&router));
    group.bench_function("layer/memory", |b| {
        b.iter_custom(|iters| runtime.block_on(time_sequential(&router, &store, &mut pool, iters)));
    });

    let server = redis_server::RedisServer::start();
    let redis = runtime
        .block_on(RedisStore::builder(server.url()).prefix("bench:").connect())
        .unwrap();
    let (router, session) = runtime.block_on(async { app(RedisChannelStore::new(&redis)) });
    let store = session.channel_store().clone();
    let mut pool = runtime.block_on(Pool::new(&router));
    group.bench_function("layer/redis", |b| {
        b.iter_custom(|iters| runtime.block_on(time_sequential(&router, &store, &mut pool, iters)));
    });
    group.bench_function("layer/redis-x16", |b| {
        b.iter_custom(|iters| runtime.block_on(time_lanes(&router, &store, iters, 16)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
