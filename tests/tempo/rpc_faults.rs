//! A node that is down, slow or answers garbage: a 503 with `Retry-After`,
//! never a receipt, the handler not run, and the same payment settles once
//! the node is back. Also counts the round trips of a verification.

use std::time::Duration;

use alloy::primitives::U256;

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
