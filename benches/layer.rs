//! The cost of payments on the request path, beside a bare handler.
//!
//! - `issue`: building and signing one challenge (one offer).
//! - `binding`: decoding a credential and checking its challenge id.
//! - `oneshot/bare` vs `oneshot/402`: a handler alone, and the same route
//!   behind `PaymentLayer` answering 402.
//! - `oneshot/paid`: a paid request through the whole verification path
//!   (a method that accepts at once, the in-memory claim store).
//! - `replays/paid`, `replays/paid, kept` and `replays/paid, replayed`: a
//!   paid request, the same behind `IdempotencyLayer` (in memory) with a
//!   fresh `Idempotency-Key`, and a retry answered from the cache.
//!
//! `LAYER_PROFILE=<name> [LAYER_ITERATIONS=n]` runs one of them `n` times
//! (default 10,000) without criterion, for `valgrind --tool=callgrind`:
//! instruction counts are repeatable on a busy machine, timings are not.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group};
use http::Request;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;
use tower_mpp::axum::Charge;
use tower_mpp::binding::BindingInput;
use tower_mpp::layer::{IdempotencyLayer, PaymentLayer};
use tower_mpp::method::{
    ChargeContext, MethodError, PaymentMethod, Payments, Price, Settlement, StaticPrice,
    Verification, VerifyError,
};
use tower_mpp::protocol::{Credential, MAX_CREDENTIAL_LEN};
use tower_mpp::store::MemoryResponseCache;

struct Instant;

impl PaymentMethod for Instant {
    fn name(&self) -> &'static str {
        "instant"
    }

    fn request(&self, _: &str, price: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
        let units = price
            .amount()
            .to_base_units(6)
            .map_err(|e| MethodError::new("price").with_source(e))?;
        let Value::Object(request) = json!({
            "amount": units.to_string(),
            "currency": "0x20c0000000000000000000000000000000000000",
            "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
        }) else {
            unreachable!()
        };
        Ok(Some(request))
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        Ok(Settlement::new(
            verification.credential.challenge.id.clone(),
        ))
    }
}

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000)
    }
}

fn payments() -> Payments {
    Payments::builder()
        .realm("api.example.com")
        .secret("a benchmark secret of at least 32 bytes")
        .expiry(Duration::from_secs(3600))
        .method(Instant)
        .build()
        .unwrap()
}

fn router(payments: &Payments) -> Router {
    Router::new()
        .route("/bare", get(|| async { "ok" }))
        .route("/paid", get(|_: Charge<OneCent>| async { "ok" }))
        .layer(PaymentLayer::new(payments.clone()))
}

fn credential(payments: &Payments) -> String {
    let ctx = ChargeContext {
        scope: "GET /paid",
        ..ChargeContext::default()
    };
    let challenge = payments
        .challenges(&OneCent::price(), &ctx)
        .unwrap()
        .remove(0);
    let Value::Object(payload) = json!({"proof": "ok"}) else {
        unreachable!()
    };
    Credential::new(challenge, payload).to_header().unwrap()
}

/// `GET /paid` with the credential `auth` and, if given, an
/// `Idempotency-Key`.
fn paid(auth: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/paid").header("authorization", auth);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(Body::empty()).unwrap()
}

/// `header`'s credential with as many unknown members in its challenge as
/// fit under [`MAX_CREDENTIAL_LEN`].
fn hostile_credential(header: &str) -> String {
    let token = header.strip_prefix("Payment ").unwrap();
    let json = URL_SAFE_NO_PAD.decode(token).unwrap();
    let mut value: Value = serde_json::from_slice(&json).unwrap();
    let echo = value["challenge"].as_object_mut().unwrap();
    // base64url grows 4/3; each member `"xNNNN":"",` is about 11 bytes.
    let budget = MAX_CREDENTIAL_LEN * 3 / 4 - json.len() - 64;
    for i in 0..budget / 12 {
        echo.insert(format!("x{i}"), Value::String(String::new()));
    }
    let token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap());
    assert!(token.len() <= MAX_CREDENTIAL_LEN, "{}", token.len());
    format!("Payment {token}")
}

fn benches(c: &mut Criterion) {
    let payments = payments();
    let price = OneCent::price();
    let ctx = ChargeContext {
        scope: "GET /paid",
        ..ChargeContext::default()
    };
    c.bench_function("issue", |b| {
        b.iter(|| {
            payments
                .challenges(black_box(&price), black_box(&ctx))
                .unwrap()
        });
    });

    let header = credential(&payments);
    let ring = tower_mpp::binding::SecretRing::new(
        tower_mpp::binding::SecretKey::new("a benchmark secret of at least 32 bytes").unwrap(),
    );
    c.bench_function("binding", |b| {
        b.iter(|| {
            let credential = Credential::parse(black_box(&header)).unwrap();
            assert!(ring.verify(
                &credential.challenge.id,
                &BindingInput::from_challenge(&credential.challenge)
            ));
        });
    });

    // The worst credential under the size cap for the duplicate check of
    // unknown challenge members (#13): thousands of them, beside the
    // normal one.
    let hostile = hostile_credential(&header);
    let mut group = c.benchmark_group("parse");
    group.bench_function("normal credential", |b| {
        b.iter(|| Credential::parse(black_box(&header)).unwrap());
    });
    group.bench_function("64 KiB of unknown members", |b| {
        b.iter(|| Credential::parse(black_box(&hostile)).unwrap());
    });
    group.finish();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let app = router(&payments);
    let mut group = c.benchmark_group("oneshot");
    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = app
                .clone()
                .oneshot(Request::get("/bare").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        });
    });
    group.bench_function("402", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = app
                .clone()
                .oneshot(Request::get("/paid").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), 402);
        });
    });
    group.bench_function("paid", |b| {
        b.to_async(&runtime).iter_batched(
            || credential(&payments),
            |auth| {
                let request = paid(&auth, None);
                async {
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// A paid request, and the same behind an `IdempotencyLayer` (in memory):
/// kept (a fresh Idempotency-Key each time, as the client sends), and
/// replayed (a retry answered from the cache, the handler not run).
fn replay_benches(c: &mut Criterion) {
    // A registry (and claim store) per benchmark: each settles hundreds of
    // thousands of challenges.
    let payments = payments();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let app = router(&payments);
    let mut group = c.benchmark_group("replays");
    // Each paid iteration leaves a claim for the challenge's hour: a short
    // run stays well within the memory store's million.
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("paid", |b| {
        b.to_async(&runtime).iter_batched(
            || credential(&payments),
            |auth| {
                let request = paid(&auth, None);
                async {
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        );
    });
    let payments = self::payments();
    // Room for every response kept during the run.
    let cache = MemoryResponseCache::with_max_bytes(1 << 30);
    let kept_app = router(&payments).layer(IdempotencyLayer::new(&payments, cache));
    let keys = std::sync::atomic::AtomicU64::new(0);
    group.bench_function("paid, kept", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                let key = keys.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (credential(&payments), format!("key-{key}"))
            },
            |(auth, key)| {
                let request = paid(&auth, Some(&key));
                async {
                    let response = kept_app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        );
    });
    let auth = credential(&payments);
    let retry = || paid(&auth, Some("the-retry"));
    runtime.block_on(async {
        let first = kept_app.clone().oneshot(retry()).await.unwrap();
        assert_eq!(first.status(), 200);
    });
    group.bench_function("paid, replayed", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = kept_app.clone().oneshot(retry()).await.unwrap();
            assert_eq!(response.headers()["idempotent-replayed"], "true");
        });
    });
    group.finish();
}

/// Runs one benchmark's body in a plain loop (see the module docs).
fn profile(name: &str) {
    let iterations: usize = std::env::var("LAYER_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let payments = payments();
    let price = OneCent::price();
    let ctx = ChargeContext {
        scope: "GET /paid",
        ..ChargeContext::default()
    };
    let header = credential(&payments);
    let ring = tower_mpp::binding::SecretRing::new(
        tower_mpp::binding::SecretKey::new("a benchmark secret of at least 32 bytes").unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let app = router(&payments);
    let get = |path: &'static str, status: u16| {
        let app = app.clone();
        runtime.block_on(async move {
            for _ in 0..iterations {
                let response = app
                    .clone()
                    .oneshot(Request::get(path).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(response.status(), status);
            }
        });
    };
    match name {
        "issue" => {
            for _ in 0..iterations {
                black_box(payments.challenges(&price, &ctx).unwrap());
            }
        }
        "binding" => {
            for _ in 0..iterations {
                let credential = Credential::parse(black_box(&header)).unwrap();
                assert!(ring.verify(
                    &credential.challenge.id,
                    &BindingInput::from_challenge(&credential.challenge)
                ));
            }
        }
        "bare" => get("/bare", 200),
        "402" => get("/paid", 402),
        other => panic!("LAYER_PROFILE={other}: one of issue, binding, bare, 402"),
    }
}

criterion_group!(layer, benches, replay_benches);

fn main() {
    if let Ok(name) = std::env::var("LAYER_PROFILE") {
        profile(&name);
        return;
    }
    layer();
    Criterion::default().configure_from_args().final_summary();
}
