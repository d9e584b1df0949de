//! Retries of paid requests with an `Idempotency-Key`, through
//! `IdempotencyLayer` in front of the session app: the kept response, not
//! a second debit; across two instances through Redis; and a charge whose
//! answer was lost, retried with its spent credential.

use axum::Router;
use axum::body::Body;
use http::{Method, Request};
use tower_mpp::layer::IdempotencyLayer;
use tower_mpp::store::{
    MemoryResponseCache, RedisChannelStore, RedisResponseCache, RedisStore, ResponseCache,
};

use crate::common::{App, Chain, PRICE, field, session_challenge};
use crate::server_common::{Reply, send};
use crate::support::redis_server::RedisServer;
use crate::support::{session_payer, tempo_payer};

/// `app`'s router behind an `IdempotencyLayer` keeping responses in `cache`.
fn replaying(app: &App, cache: impl ResponseCache) -> Router {
    app.router
        .clone()
        .layer(IdempotencyLayer::new(&app.payments, cache))
}

async fn get(router: &Router, path: &str, authorization: &str, key: Option<&str>) -> Reply {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("authorization", authorization);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

/// A voucher request retried with its key gets the same body and receipt,
/// marked replayed: the handler ran once and the channel was debited once.
/// The same credential under another key is a new request: the voucher is
/// an idempotent resubmission, and the request is paid again.
#[tokio::test]
async fn a_retried_session_request_is_answered_with_its_response_and_debited_once() {
    let chain = Chain::start().await;
    let app = chain.app();
    let router = replaying(&app, MemoryResponseCache::new());
    let channel = chain.channel().await;
    let challenge = session_challenge(&app.send(Method::GET, "/paid", None).await);
    let open = session_payer::credential(&challenge, channel.open_payload(100 * PRICE, PRICE));
    let reply = get(&router, "/paid", &open, Some("req-1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let tokens = app.challenge("/tokens?n=3").await;
    let voucher = session_payer::credential(&tokens, channel.voucher_payload(4 * PRICE));
    let paid = get(&router, "/tokens?n=3", &voucher, Some("req-2")).await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    assert_eq!(field(&paid, "spent"), (4 * PRICE).to_string());
    assert_eq!(app.handled(), 2);

    let retried = get(&router, "/tokens?n=3", &voucher, Some("req-2")).await;
    assert_eq!(retried.status, 200);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(retried.body, paid.body);
    assert_eq!(
        retried.headers["payment-receipt"],
        paid.headers["payment-receipt"]
    );
    assert_eq!(app.handled(), 2, "the handler did not run again");

    // Another key: served, and paid, again (the voucher covers it no
    // more: 4 spent of 4).
    let again = get(&router, "/tokens?n=3", &voucher, Some("req-3")).await;
    assert_eq!(again.status, 402, "{}", again.text());
    let stored = app
        .session
        .channel_store()
        .get(channel.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state.spent, 4 * PRICE, "debited once");
}

/// Two instances share Redis for channels and kept responses: a retry
/// landing on the other instance gets the first one's response.
#[tokio::test]
async fn a_retry_on_another_instance_is_answered_from_redis() {
    let chain = Chain::start().await;
    let redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let instance = async |prefix: &str| {
        let store = RedisStore::builder(redis.url())
            .prefix(prefix)
            .connect()
            .await
            .unwrap();
        let channels = RedisChannelStore::new(&store);
        let app = App::new(&chain, chain.session(&chain.anvil.url, channels));
        let router = replaying(&app, RedisResponseCache::new(&store));
        (app, router)
    };
    let (a, router_a) = instance("replays:").await;
    let (b, router_b) = instance("replays:").await;
    let channel = chain.channel().await;
    let challenge = session_challenge(&a.send(Method::GET, "/paid", None).await);
    let open = session_payer::credential(&challenge, channel.open_payload(100 * PRICE, PRICE));
    let reply = get(&router_a, "/paid", &open, Some("k1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let retried = get(&router_b, "/paid", &open, Some("k1")).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(
        retried.headers["payment-receipt"],
        reply.headers["payment-receipt"]
    );
    assert_eq!(a.handled() + b.handled(), 1);
    let stored = b
        .session
        .channel_store()
        .get(channel.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state.spent, PRICE);
}

/// A charge settled on chain whose response was lost: retried with the
/// same credential it is refused (single use), unless it carried an
/// `Idempotency-Key`, with which the retry gets the paid response.
#[tokio::test]
async fn a_charge_retried_with_its_key_gets_its_response_instead_of_a_refusal() {
    let chain = Chain::start().await;
    let app = chain.app();
    let router = replaying(&app, MemoryResponseCache::new());
    let reply = app.send(Method::GET, "/paid", None).await;
    let challenge = reply
        .challenges()
        .into_iter()
        .find(|c| c.intent == "charge")
        .expect("a charge challenge");
    let payer = chain.anvil.funded_payer(1_000_000).await;
    let pay = |challenge| {
        let signed = tempo_payer::honest(&payer, challenge, false);
        session_payer::credential(
            challenge,
            tempo_payer::pull_payload(&signed, payer.address()),
        )
    };

    let with_key = pay(&challenge);
    let paid = get(&router, "/paid", &with_key, Some("charge-1")).await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    let retried = get(&router, "/paid", &with_key, Some("charge-1")).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(app.handled(), 1);

    let fresh = app.send(Method::GET, "/paid", None).await;
    let charge = fresh
        .challenges()
        .into_iter()
        .find(|c| c.intent == "charge")
        .unwrap();
    let without_key = pay(&charge);
    assert_eq!(get(&router, "/paid", &without_key, None).await.status, 200);
    let refused = get(&router, "/paid", &without_key, None).await;
    assert_ne!(refused.status, 200, "single use without a key");
    assert_eq!(app.handled(), 2);
}

/// A thousand free management requests (vouchers sent as `HEAD`, answered
/// `204` with a receipt) with distinct keys keep nothing: a paid request
/// after them is kept, and its retry is answered, not charged again.
#[tokio::test]
async fn free_management_requests_do_not_push_a_paid_response_out() {
    let chain = Chain::start().await;
    let app = chain.app();
    let router = replaying(&app, MemoryResponseCache::with_max_bytes(200_000));
    let channel = chain.channel().await;
    let challenge = session_challenge(&app.send(Method::GET, "/paid", None).await);
    let open = session_payer::credential(&challenge, channel.open_payload(100 * PRICE, PRICE));
    assert_eq!(get(&router, "/paid", &open, None).await.status, 200);
    let voucher = session_payer::credential(&challenge, channel.voucher_payload(PRICE));
    for i in 0..1000 {
        let request = Request::builder()
            .method(Method::HEAD)
            .uri("/paid")
            .header("authorization", &voucher)
            .header("idempotency-key", format!("free-{i}"))
            .body(Body::empty())
            .unwrap();
        let reply = send(&router, request).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
    }
    let paid = session_payer::credential(&challenge, channel.voucher_payload(2 * PRICE));
    let first = get(&router, "/paid", &paid, Some("paid")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let retried = get(&router, "/paid", &paid, Some("paid")).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(app.handled(), 2, "the retry was not served again");
}
