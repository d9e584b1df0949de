//! What a client can make the server do for free is bounded (#13): failed
//! attempts per challenge, and the claims that free proofs may hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::store::MemoryStore;

use crate::common::{
    Hooks, Invoice, OneCent, REALM, Recorder, SECRET, challenge_for, get_req, pay, send, send_auth,
};

struct Free;
impl StaticPrice for Free {
    fn price() -> Price {
        Price::base_units(0)
    }
}

fn app(
    configure: impl FnOnce(tower_mpp::method::PaymentsBuilder) -> tower_mpp::method::PaymentsBuilder,
    store: MemoryStore,
) -> (Router, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let builder = Payments::builder()
        .store(store)
        .realm(REALM)
        .secret(SECRET)
        .method(Invoice {
            name: "invoice",
            currency: "usd",
            calls: calls.clone(),
        })
        .hooks(Hooks(Arc::new(Recorder::default())));
    let payments = configure(builder).build().unwrap();
    let router = Router::new()
        .route("/joke", get(|_: Charge<OneCent>| async { "joke" }))
        .route("/free", get(|_: Charge<Free>| async { "free" }))
        .layer(PaymentLayer::new(payments));
    (router, calls)
}

/// Each failed attempt may cost the method I/O: after the allowed number,
/// the challenge is used up, even for a proof that would pay.
#[tokio::test]
async fn a_challenge_allows_a_few_failed_attempts_only() {
    let (router, calls) = app(|b| b.max_failed_attempts(3), MemoryStore::default());
    let challenge = challenge_for(&router, "GET", "/joke", "").await;
    for _ in 0..3 {
        send_auth(&router, "/joke", pay(&challenge, "forged"))
            .await
            .assert_rejected(402, "verification-failed");
    }
    let detail = send_auth(&router, "/joke", pay(&challenge, "paid"))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert!(detail.contains("already used"), "{detail}");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "no fourth verification");

    // A fresh challenge pays; infrastructure failures do not count.
    let challenge = challenge_for(&router, "GET", "/joke", "").await;
    for _ in 0..5 {
        send_auth(&router, "/joke", pay(&challenge, "unavailable"))
            .await
            .assert_rejected(503, "about:blank");
    }
    let reply = send_auth(&router, "/joke", pay(&challenge, "paid")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Free proofs beyond the window's budget wait (503), so they cannot fill a
/// store and lock out paid claims.
#[tokio::test]
async fn free_proofs_cannot_crowd_out_paid_claims() {
    let (router, _) = app(
        |b| b.free_claims(3, Duration::from_secs(60)),
        MemoryStore::with_capacity(8),
    );
    let mut served = 0;
    let mut waited = 0;
    for _ in 0..12 {
        let challenge = challenge_for(&router, "GET", "/free", "").await;
        let reply = send_auth(&router, "/free", pay(&challenge, "paid")).await;
        match reply.status.as_u16() {
            200 => served += 1,
            503 => {
                let detail = reply.assert_rejected(503, "about:blank");
                assert!(detail.contains("free"), "{detail}");
                waited += 1;
            }
            other => panic!("{other}: {}", reply.text()),
        }
    }
    assert_eq!((served, waited), (3, 9));

    let challenge = challenge_for(&router, "GET", "/joke", "").await;
    let reply = send_auth(&router, "/joke", pay(&challenge, "paid")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let unpaid = send(&router, get_req("/joke").body(Body::empty()).unwrap()).await;
    assert_eq!(unpaid.status, 402);
}

/// A failure that cost the server (a transaction that reverted on chain)
/// uses the challenge up at once: it cannot be tried again for free.
#[tokio::test]
async fn a_failure_that_spends_the_challenge_keeps_it_used() {
    let (router, calls) = app(|b| b, MemoryStore::default());
    let challenge = challenge_for(&router, "GET", "/joke", "").await;
    send_auth(&router, "/joke", pay(&challenge, "reverted"))
        .await
        .assert_rejected(402, "verification-failed");
    send_auth(&router, "/joke", pay(&challenge, "paid"))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
