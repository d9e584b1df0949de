//! Servers that lie to the client: what they claim never makes it sign
//! more than it vouched, nor more than its policy allowed.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse as _;
use serde_json::json;
use std::sync::atomic::Ordering::SeqCst;

use tower_mpp::client::{
    PaymentExt, PaymentProvider, SpendingPolicy, TempoSessionProvider, WithPolicy,
};
use tower_mpp::protocol::Receipt;

use crate::common::{App, Chain, PRICE, REALM};

/// Serves `app` behind a layer that rewrites each `Payment-Receipt` to
/// claim `spent`; its base URL.
async fn serve_claiming(app: &App, spent: u128) -> String {
    let router = app.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let mut response = next.run(request).await;
            let claimed = response
                .headers()
                .get("payment-receipt")
                .and_then(|v| Receipt::parse(v.to_str().ok()?).ok())
                .and_then(|mut receipt| {
                    receipt
                        .extra
                        .insert("spent".into(), json!(spent.to_string()));
                    receipt.to_header_value().ok()
                });
            if let Some(claimed) = claimed {
                response.headers_mut().insert("payment-receipt", claimed);
            }
            response
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// Receipts claiming the whole deposit was spent, after three requests
/// vouched three prices: the close is signed for three prices, and the
/// escrow pays the payee exactly that.
#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_claiming_the_deposit_does_not_raise_the_close() {
    let chain = Chain::start().await;
    let app = chain.app();
    let deposit = 50 * PRICE;
    let base = serve_claiming(&app, deposit).await;
    let provider =
        TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await).deposit(deposit);
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    let url = format!("{base}/paid");
    for _ in 0..3 {
        let response = reqwest::Client::new()
            .get(&url)
            .send_with_payment(&paying)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let from: String = chain.anvil.rpc("eth_blockNumber", json!([])).await;
    provider.close(&url).await.unwrap();
    assert_eq!(
        chain.paid_by_escrow(chain.payee.address(), &from).await,
        3 * PRICE,
        "the close pays what the client vouched, not what the server claimed"
    );
}

/// Server B (another payee, another origin) is paid for a stream, then
/// asks in it for a voucher on the client's channel with server A (ids
/// are public on chain): the stream ends with a typed error, nothing is
/// signed on A's channel or sent to B for it, and `close_all` still
/// closes A's channel at A.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cannot_ask_for_a_voucher_on_another_servers_channel() {
    use tower_mpp::client::{ClientError, SessionEvent};

    let chain = Chain::start().await;
    let app_a = chain.app();
    let base_a = app_a.serve().await;
    let provider =
        TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await).deposit(10 * PRICE);
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .get(format!("{base_a}/paid"))
            .send_with_payment(&paying)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let a = provider
        .channel(&app_a.challenge("/paid").await)
        .unwrap()
        .expect("A's channel");

    let need = json!({
        "channelId": a.channel_id.to_string(),
        "requiredCumulative": (a.cumulative + PRICE).to_string(),
        "acceptedCumulative": a.cumulative.to_string(),
        "deposit": a.deposit.to_string(),
    });
    let (base_b, named) = serve_asking(&another_payee(&chain).await.app(), need).await;
    let response = client
        .get(format!("{base_b}/stream?n=5&wait=5"))
        .send_with_payment(&paying)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = provider.events(response);
    let mut ended = None;
    while let Some(event) = futures_util::StreamExt::next(&mut events).await {
        match event {
            Ok(SessionEvent::Paid { channel_id, .. }) => {
                panic!("paid a voucher on {channel_id}")
            }
            Ok(_) => {}
            Err(error) => ended = Some(error),
        }
    }
    let error = ended.expect("the stream ends with an error");
    assert!(
        matches!(&error, ClientError::ForeignChannel { asked, .. } if *asked == a.channel_id.to_string()),
        "{error:?}"
    );
    let after = provider
        .channel(&app_a.challenge("/paid").await)
        .unwrap()
        .expect("A's channel is still in the book");
    assert_eq!(
        after.cumulative, a.cumulative,
        "nothing signed on A's channel"
    );
    let a_id = a.channel_id.to_string();
    assert!(
        !named.lock().unwrap().contains(&a_id),
        "B never got a credential on A's channel"
    );
    let closed = provider.close_all().await;
    let closed_a = closed
        .iter()
        .find(|(id, _)| *id == a.channel_id)
        .expect("close_all closes A's channel");
    assert!(closed_a.1.is_ok(), "{closed_a:?}");
    let on_chain = chain.read(a.channel_id).await;
    assert!(
        on_chain.finalized || on_chain.payer.is_zero(),
        "A's channel closed"
    );
}

/// The same chain and escrow with another (funded) payee.
async fn another_payee(chain: &Chain) -> Chain {
    let other = Chain {
        anvil: chain.anvil.clone(),
        escrow: chain.escrow,
        payee: tower_mpp::client::PrivateKeySigner::random(),
    };
    chain
        .anvil
        .fund(
            other.payee.address(),
            crate::support::anvil::PATH_USD,
            10_000_000,
        )
        .await;
    other
}

/// Serves `app` with each stream's body replaced by one
/// `payment-need-voucher` carrying `need`; its base URL and the channel
/// each credential it received named.
async fn serve_asking(
    app: &App,
    need: serde_json::Value,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let named = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = named.clone();
    let router = app.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let seen = seen.clone();
            let need = need.clone();
            async move {
                if let Some(credential) = request
                    .headers()
                    .get("authorization")
                    .and_then(|v| tower_mpp::protocol::Credential::parse(v.to_str().ok()?).ok())
                    && let Some(id) = credential.payload.get("channelId").and_then(|v| v.as_str())
                {
                    seen.lock().unwrap().push(id.to_owned());
                }
                let response = next.run(request).await;
                let streaming = response
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                if !streaming {
                    return response;
                }
                let (parts, _) = response.into_parts();
                let body = format!("event: payment-need-voucher\ndata: {need}\n\n");
                axum::response::Response::from_parts(parts, axum::body::Body::from(body))
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, named)
}

/// Serves `app` behind a layer answering `410` to the first `times` paid
/// requests (after the app took them: an open's transaction is
/// broadcast); the URL of `/paid`.
pub(crate) async fn serve_gone(app: &App, times: usize) -> String {
    let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(times));
    let router = app.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let left = left.clone();
            async move {
                let paid = request.headers().contains_key("authorization");
                let response = next.run(request).await;
                let take = |n: usize| n.checked_sub(1);
                if paid && left.fetch_update(SeqCst, SeqCst, take).is_ok() {
                    axum::http::StatusCode::GONE.into_response()
                } else {
                    response
                }
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paid", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A server that takes each open (the transaction is broadcast) and then
/// answers `410`, four times, under a policy of 1.5 deposits in total:
/// the client locks up one deposit, and its next open is refused unsigned
/// (the deposits count against the total).
#[tokio::test(flavor = "multi_thread")]
async fn a_server_answering_410_cannot_make_the_client_deposit_past_its_policy() {
    four_opens_refused_past_the_policy(WithPolicy::with_policy).await;
}

/// The same through a [`MultiProvider`]: the policy reaches the session
/// provider inside it, and its deposits count.
#[tokio::test(flavor = "multi_thread")]
async fn a_multi_provider_holds_session_deposits_to_the_policy() {
    use tower_mpp::client::MultiProvider;
    four_opens_refused_past_the_policy(|provider, policy| {
        MultiProvider::new().with(provider).with_policy(policy)
    })
    .await;
}

/// Four requests to a server answering `410` to each, paid by `wrap`
/// (the session provider and a policy of 1.5 deposits): one deposit
/// leaves the payer, the next opens are refused unsigned.
async fn four_opens_refused_past_the_policy<P: PaymentProvider>(
    wrap: impl FnOnce(TempoSessionProvider, SpendingPolicy) -> P,
) {
    use tower_mpp::client::{ClientError, PolicyViolation};

    let chain = Chain::start().await;
    let app = chain.app();
    let url = serve_gone(&app, usize::MAX).await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let before = chain.balance(payer.address()).await;
    let deposit = 1_000_000;
    let provider = TempoSessionProvider::new(payer.clone()).deposit(deposit);
    let policy = SpendingPolicy::new()
        .allow_realm(REALM)
        .max_total(crate::support::anvil::PATH_USD.to_string(), deposit * 3 / 2);
    let paying = wrap(provider, policy);
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(
            reqwest::Client::new()
                .get(&url)
                .send_with_payment(&paying)
                .await
                .map(|response| response.status()),
        );
    }
    let after = chain.balance(payer.address()).await;
    let locked: u128 = (before - after).to();
    assert!(
        locked < 2 * deposit,
        "one deposit (and fees) left the payer, not {locked}"
    );
    assert_eq!(answers[0].as_ref().unwrap(), &axum::http::StatusCode::GONE);
    for answer in &answers[1..] {
        assert!(
            matches!(
                answer,
                Err(ClientError::PolicyRefused(PolicyViolation::Deposits { .. }))
            ),
            "{answer:?}"
        );
    }
}
