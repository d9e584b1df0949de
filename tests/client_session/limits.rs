//! The client's limits on a session: a spending policy over a metered
//! stream's vouchers, and closing on drop.

use std::time::Duration;

use alloy::primitives::B256;
use futures_util::StreamExt as _;
use serde_json::json;
use tower_mpp::client::{
    ClientError, PaymentExt, PolicyViolation, SessionEvent, SpendingPolicy, TempoSessionProvider,
    WithPolicy,
};

use crate::common::{App, Chain, PRICE, REALM};
use crate::support::anvil::PATH_USD;

/// Reads a limited stream to its end: the words read, the vouchers paid,
/// and the error it ended with.
async fn read_until_refused(
    paying: &tower_mpp::client::Limited<TempoSessionProvider>,
    url: &str,
) -> (usize, usize, ClientError) {
    let response = reqwest::Client::new()
        .get(url)
        .send_with_payment(paying)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = paying.events(response);
    let (mut words, mut vouchers) = (0, 0);
    while let Some(event) = events.next().await {
        match event {
            Ok(SessionEvent::Message(_)) => words += 1,
            Ok(SessionEvent::Paid { .. }) => vouchers += 1,
            Ok(other) => panic!("the stream should be refused first: {other:?}"),
            Err(error) => return (words, vouchers, error),
        }
    }
    panic!("the stream ended without a refusal after {words} words");
}

/// A policy of 3 prices per request and 5 in all: the first stream reads
/// 3 words (the request's price, then two vouchers) and its fourth
/// voucher is refused unsigned; the second reads 2 before the total runs
/// out. The server was paid for exactly what was read.
#[tokio::test(flavor = "multi_thread")]
async fn a_streams_vouchers_stay_within_the_policy_per_request_and_in_total() {
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let provider = TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await)
        // The deposit counts against the total as well: at most 5.
        .deposit(5 * PRICE)
        // Vouching ahead shrinks to the need where the policy allows no
        // more.
        .voucher_ahead(4 * PRICE);
    let policy = SpendingPolicy::new()
        .allow_realm(REALM)
        .max_per_request(PATH_USD.to_string(), 3 * PRICE)
        .max_total(PATH_USD.to_string(), 5 * PRICE);
    let paying = provider.clone().with_policy(policy.clone());
    // One item per need, as the policy's arithmetic below counts.
    let url = format!("{base}/stream?n=12&wait=30&ahead=1&low=0");

    let (words, _, error) = read_until_refused(&paying, &url).await;
    assert!(
        matches!(
            error,
            ClientError::PolicyRefused(PolicyViolation::PerRequest { amount, max, .. })
                if amount == 4 * PRICE && max == 3 * PRICE
        ),
        "{error:?}"
    );
    assert_eq!(words, 3);
    assert_eq!(policy.spent(&PATH_USD.to_string()), 3 * PRICE);

    let (words, _, error) = read_until_refused(&paying, &url).await;
    assert!(
        matches!(
            error,
            ClientError::PolicyRefused(PolicyViolation::Total { spent, max, .. })
                if spent == 5 * PRICE && max == 5 * PRICE
        ),
        "{error:?}"
    );
    assert_eq!(words, 2);
    assert_eq!(policy.spent(&PATH_USD.to_string()), 5 * PRICE);
    let record = provider
        .channel(&app.challenge("/paid").await)
        .unwrap()
        .expect("the channel is in the book");
    assert_eq!(
        record.cumulative,
        5 * PRICE,
        "no voucher above the policy was signed"
    );
}

/// Pays `/paid` three times from a new channel of `provider`; the channel.
async fn pay_three(app: &App, provider: &TempoSessionProvider) -> B256 {
    let base = app.serve().await;
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    for _ in 0..3 {
        let response = reqwest::Client::new()
            .get(format!("{base}/paid"))
            .send_with_payment(&paying)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    provider
        .channel(&app.challenge("/paid").await)
        .unwrap()
        .expect("the channel is in the book")
        .channel_id
}

/// A provider made to close on drop closes the channels it paid from when
/// its last clone goes: from a multi-threaded runtime (on that runtime),
/// from a current-thread runtime and from a thread with no runtime (on a
/// thread of its own). The escrow pays the payee exactly what was spent.
#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_provider_closes_its_channels() {
    let chain = Chain::start().await;
    let app = chain.app();
    for dropped_in in [
        "a multi-thread runtime",
        "a current-thread runtime",
        "no runtime",
    ] {
        let provider = TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await)
            .deposit(10 * PRICE)
            .close_on_drop(Duration::from_secs(60));
        let id = pay_three(&app, &provider).await;
        let from: String = chain.anvil.rpc("eth_blockNumber", json!([])).await;
        match dropped_in {
            "a multi-thread runtime" => drop(provider),
            // The worker hands its work on while this thread waits.
            "a current-thread runtime" => tokio::task::block_in_place(|| {
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async move { drop(provider) });
                })
                .join()
                .unwrap();
            }),
            _ => tokio::task::block_in_place(|| {
                std::thread::spawn(move || drop(provider)).join().unwrap();
            }),
        }
        let on_chain = chain.read(id).await;
        assert!(
            on_chain.finalized || on_chain.payer.is_zero(),
            "closed (dropped in {dropped_in}): {on_chain:?}"
        );
        assert_eq!(
            chain.paid_by_escrow(chain.payee.address(), &from).await,
            3 * PRICE,
            "the payee got what was spent (dropped in {dropped_in})"
        );
    }
}

/// Without `with_close_on_drop`, dropping leaves the channel open (a kept
/// book goes on with it later); `close_all` closes the channels paid from
/// on request.
#[tokio::test(flavor = "multi_thread")]
async fn channels_stay_open_on_drop_unless_asked_and_close_all_closes_them() {
    let chain = Chain::start().await;
    let app = chain.app();
    let dropped =
        TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await).deposit(10 * PRICE);
    let open = pay_three(&app, &dropped).await;
    drop(dropped);
    let on_chain = chain.read(open).await;
    assert!(
        !on_chain.finalized && !on_chain.payer.is_zero(),
        "still open"
    );

    let provider =
        TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await).deposit(10 * PRICE);
    let id = pay_three(&app, &provider).await;
    let closed = provider.close_all().await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].0, id);
    let receipt = closed[0].1.as_ref().expect("closed");
    assert!(receipt.extra["txHash"].is_string(), "{receipt:?}");
    let on_chain = chain.read(id).await;
    assert!(on_chain.finalized || on_chain.payer.is_zero());
    assert!(
        provider.close_all().await.is_empty(),
        "nothing left to close"
    );
}

/// The answer to a paid request is lost (the server served it, then the
/// connection hung until the client's timeout): the client sends it again
/// with the same credential and `Idempotency-Key`, and the server's
/// `IdempotencyLayer` answers with the response already paid for: served
/// once, debited once. Through `send_with_payment`, then the middleware.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_is_fetched_again_without_paying_twice() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower_mpp::client::ReceiptExt as _;
    use tower_mpp::layer::IdempotencyLayer;
    use tower_mpp::store::MemoryResponseCache;

    let chain = Chain::start().await;
    let app = chain.app();
    // Paid requests seen: the first of each client's pair is lost.
    let paid_seen = Arc::new(AtomicUsize::new(0));
    let router = app
        .router
        .clone()
        .layer(IdempotencyLayer::new(
            &app.payments,
            MemoryResponseCache::new(),
        ))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let paid_seen = paid_seen.clone();
                async move {
                    let paid = request.headers().contains_key("authorization");
                    let response = next.run(request).await;
                    if paid && paid_seen.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                        std::future::pending::<()>().await;
                    }
                    response
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paid", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let provider = TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await)
        .deposit(10 * PRICE)
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let response = http.get(&url).send_with_payment(&provider).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let receipt = response.payment_receipt().unwrap().unwrap();
    assert_eq!(receipt.extra["spent"], PRICE.to_string());
    assert_eq!(response.text().await.unwrap(), "served");
    assert_eq!(app.handled(), 1, "served once");

    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(tower_mpp::client::PaymentMiddleware::new(provider))
        .build();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let receipt = response.payment_receipt().unwrap().unwrap();
    assert_eq!(receipt.extra["spent"], (2 * PRICE).to_string());
    assert_eq!(app.handled(), 2, "served once each");
}
