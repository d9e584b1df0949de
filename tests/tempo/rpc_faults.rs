//! A node that is down, slow or answers garbage: a 503 with `Retry-After`,
//! never a receipt, the handler not run, and the same payment settles once
//! the node is back. Also counts the round trips of a verification.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use alloy::primitives::{B256, U256};

use crate::common::{Env, PRICE};
use crate::push::broadcast;
use crate::support::anvil::Anvil;
use crate::support::rpc_proxy::{Behaviour, RpcProxy};
use crate::support::tempo_payer::{credential, honest, pull_payload, push_payload};

#[tokio::test]
async fn a_node_that_fails_in_any_way_is_a_503_and_the_payment_survives() {
    let anvil = Anvil::start();
    let proxy = RpcProxy::start(&anvil.url).await;
    let env = Env::start_on(anvil, &proxy.url, |b| b);
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);

    for behaviour in [
        Behaviour::BadGateway,
        Behaviour::InternalError,
        Behaviour::Garbage,
        Behaviour::Slow(Duration::from_secs(4)),
    ] {
        proxy.set(behaviour);
        let reply = env.get("/paid", Some(&auth)).await;
        let detail = reply.assert_rejected(503, "about:blank");
        assert!(detail.contains("unavailable"), "{behaviour:?}: {detail}");
    }
    assert_eq!(env.handled(), 0);
    // The slow answer may have reached the node after the time limit: the
    // retry finds the transaction mined (or mines it) and settles once.
    proxy.set(Behaviour::Forward);
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.get("/paid", Some(&auth)).await.assert_paid();
    assert_eq!(env.handled(), 1);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_node_that_is_not_there_is_a_503() {
    let anvil = Anvil::start();
    let env = Env::start_on(anvil, "http://127.0.0.1:9", |b| b);
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let hash = broadcast(&env.anvil, &signed).await;
    for auth in [
        credential(&challenge, pull_payload(&signed, payer.address()), None),
        credential(&challenge, push_payload(hash), None),
    ] {
        env.get("/paid", Some(&auth))
            .await
            .assert_rejected(503, "about:blank");
    }
    assert_eq!(env.handled(), 0);
}

#[tokio::test]
async fn push_takes_one_round_trip_and_pull_one_with_the_sync_method() {
    let anvil = Anvil::start();
    let proxy = RpcProxy::start(&anvil.url).await;
    let env = Env::start_on(anvil, &proxy.url, |b| b);
    let payer = env.anvil.funded_payer(1_000_000).await;

    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    proxy.take_calls();
    env.get(
        "/paid",
        Some(&credential(
            &challenge,
            pull_payload(&signed, payer.address()),
            None,
        )),
    )
    .await
    .assert_paid();
    assert_eq!(proxy.take_calls(), ["eth_sendRawTransactionSync"]);

    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let hash = broadcast(&env.anvil, &signed).await;
    proxy.take_calls();
    env.get(
        "/paid",
        Some(&credential(&challenge, push_payload(hash), None)),
    )
    .await
    .assert_paid();
    assert_eq!(proxy.take_calls(), ["eth_getTransactionReceipt"]);
}

#[tokio::test]
async fn without_the_sync_method_the_server_sends_and_polls() {
    let anvil = Anvil::start();
    let proxy = RpcProxy::start(&anvil.url).await;
    proxy.set(Behaviour::WithoutSync);
    let env = Env::start_on(anvil, &proxy.url, |b| b);
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    proxy.take_calls();
    env.get(
        "/paid",
        Some(&credential(
            &challenge,
            pull_payload(&signed, payer.address()),
            None,
        )),
    )
    .await
    .assert_paid();
    let calls = proxy.take_calls();
    assert_eq!(
        calls[..2],
        ["eth_sendRawTransactionSync", "eth_sendRawTransaction"]
    );
    assert!(
        calls[2..].iter().all(|c| c == "eth_getTransactionReceipt"),
        "{calls:?}"
    );
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
}

/// A buffer the tracing subscriber writes to.
#[derive(Clone, Default)]
struct Traces(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Traces {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The node's URL carries an API key (user info, path and query): when the
/// node cannot be reached, the 503 says so in general terms, and neither
/// the response nor the traces (which log the cause) hold any part of the
/// URL that could be secret (#13).
#[tokio::test]
async fn the_node_url_never_reaches_a_client_or_a_trace() {
    const SECRETS: [&str; 3] = ["KEYPART1", "KEYPART2", "KEYPART3"];
    let url = "http://user:pw-KEYPART1@127.0.0.1:9/v2/KEYPART2?apikey=KEYPART3";
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let env = Env::start_on(anvil, url, |b| b);
    let challenge = env.challenge("/paid").await;
    let auth = credential(&challenge, push_payload(B256::repeat_byte(7)), None);

    let traces = Traces::default();
    let writer = traces.clone();
    // This crate's events, at every level. (alloy's HTTP transport names
    // its URL in its own TRACE spans: the README says to keep those off
    // where the URL holds a key.)
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish()
        .with(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("tower_mpp")
        }));
    let reply = {
        let _guard = tracing::subscriber::set_default(subscriber);
        env.get("/paid", Some(&auth)).await
    };

    let detail = reply.assert_rejected(503, "about:blank");
    assert!(detail.contains("unavailable"), "{detail}");
    let seen = format!("{:?}\n{}", reply.headers, reply.text());
    let traces = String::from_utf8(traces.0.lock().unwrap().clone()).unwrap();
    if cfg!(feature = "tracing") {
        // A node that cannot answer is a warning, not a refusal.
        assert!(traces.contains("WARN"), "{traces}");
        assert!(traces.contains("payment unavailable"), "{traces}");
        assert!(
            traces.contains("<rpc url>"),
            "the cause is logged: {traces}"
        );
    }
    for secret in SECRETS {
        assert!(!seen.contains(secret), "{secret} in the response: {seen}");
        assert!(!traces.contains(secret), "{secret} in a trace: {traces}");
    }
}
