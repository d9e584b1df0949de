//! Several server instances sharing one Redis: a credential settles once,
//! and a Redis outage fails closed (503, no receipt, handler not run).
#![cfg(all(feature = "redis", feature = "axum"))]

#[path = "server/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use common::{App, app_with, challenge_for, get_req, pay, send, send_auth};
use redis_server::RedisServer;
use tower_mpp::store::RedisStore;

async fn instance(server: &RedisServer) -> App {
    let store = RedisStore::builder(server.url())
        .timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect to the test redis-server");
    app_with(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_settle_a_credential_presented_to_both_at_once_once() {
    let server = RedisServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);
    for round in 0..20 {
        // Issued by one instance, paid to both at the same moment.
        let challenge = challenge_for(&a.router, "GET", "/joke", "").await;
        let auth = pay(&challenge, "paid");
        let request = || {
            get_req("/joke")
                .header("authorization", &auth)
                .body(Body::empty())
                .unwrap()
        };
        let (router_a, request_a) = (a.router.clone(), request());
        let (router_b, request_b) = (b.router.clone(), request());
        let to_a = tokio::spawn(async move { send(&router_a, request_a).await });
        let to_b = tokio::spawn(async move { send(&router_b, request_b).await });
        let (ra, rb) = tokio::join!(to_a, to_b);
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
        statuses.sort_unstable();
        // The other is refused: used (402), or still settling (503: its
        // retry finds it used).
        assert!(
            statuses == [200, 402] || statuses == [200, 503],
            "round {round}: {} / {}",
            ra.text(),
            rb.text()
        );
        let refused = if ra.status == 200 { &rb } else { &ra };
        if refused.status == 402 {
            refused.assert_rejected(402, "invalid-challenge");
        }
    }
    assert_eq!(
        a.runs.load(Ordering::SeqCst) + b.runs.load(Ordering::SeqCst),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_gives_503_without_receipts_and_service_resumes() {
    let mut server = RedisServer::start();
    let app = instance(&server).await;
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let auth = pay(&challenge, "paid");

    server.stop();
    for _ in 0..3 {
        let reply = send_auth(&app.router, "/joke", &auth).await;
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert!(reply.headers.contains_key("retry-after"));
        assert!(reply.headers.get("payment-receipt").is_none());
        assert_eq!(reply.problem().status, 503);
    }
    assert_eq!(
        app.runs.load(Ordering::SeqCst),
        0,
        "nothing is served while claims cannot be recorded"
    );

    server.restart();
    // The proof was never claimed, so the same credential pays once Redis
    // is back (the connection manager reconnects within about a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let reply = send_auth(&app.router, "/joke", &auth).await;
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.receipt().is_some());
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
}

/// Redis frozen while a credential is presented: the 503 says retry, and
/// the retry proceeds once Redis thaws, although the claim the server gave
/// up on ran when it woke (it is a short lease, not the long used mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_a_frozen_redis_is_retryable_after_it_thaws() {
    let server = RedisServer::start();
    let app = instance(&server).await;
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let auth = pay(&challenge, "paid");

    server.freeze();
    let reply = send_auth(&app.router, "/joke", &auth).await;
    server.thaw();
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(reply.headers.contains_key("retry-after"));

    let deadline = Instant::now() + Duration::from_secs(15);
    let reply = loop {
        let reply = send_auth(&app.router, "/joke", &auth).await;
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.receipt().is_some());
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
    send_auth(&app.router, "/joke", &auth)
        .await
        .assert_rejected(402, "invalid-challenge");
}
