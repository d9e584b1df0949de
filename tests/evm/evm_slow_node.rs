//! A node slow to mine, or one that forgets what the gas key submitted:
//! the payer's retry with the same credential is served once, and the
//! gas key's transfer is not sent twice.

use std::time::Duration;

use alloy::primitives::U256;
use serde_json::{Value, json};

use crate::common::{Env, PRICE, authorization_payload, credential, good_authorization};

/// How a first attempt's transfer fares after its `503`.
#[derive(Clone, Copy, PartialEq)]
enum Node {
    /// It stays in the node's pool and is mined later.
    Slow,
    /// The node drops it (a restart, an eviction) before mining anything.
    Forgets,
}

/// The first attempt's receipt does not come within the receipt timeout
/// (anvil mines nothing), so the request is a `503`. Then, the node mines
/// or forgets, and the payer's retry with the same credential is served:
/// it waits for the transfer already submitted, or submits it again when
/// the node no longer has it. One transfer either way.
async fn retry_after_a_receipt_timeout_is_served(env: Env, node: Node) {
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    let auth = good_authorization(&payer, &env, &challenge);
    let header = credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        Some(payer.address()),
    );
    let anvil = &env.chain.anvil;
    let automine = |on: bool| anvil.rpc::<Value>("evm_setAutomine", json!([on]));
    automine(false).await;
    let reply = env.get(Some(&header)).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(env.handled(), 0);

    if node == Node::Forgets {
        let _: Value = anvil.rpc("anvil_dropAllTransactions", json!([])).await;
    }
    automine(true).await;
    let _: Value = anvil.rpc("evm_mine", json!([])).await;
    let receipt = env.get(Some(&header)).await.assert_paid();
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    let gas_payer = env.method.gas_payer().unwrap();
    let sent: Value = anvil
        .rpc("eth_getTransactionCount", json!([gas_payer, "latest"]))
        .await;
    assert_eq!(sent, json!("0x1"), "one transfer was mined");
    let tx: Value = anvil
        .rpc("eth_getTransactionByHash", json!([receipt.reference]))
        .await;
    assert_eq!(
        tx["from"].as_str().map(str::to_lowercase),
        Some(format!("{gas_payer:#x}"))
    );
    env.get(Some(&header))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

async fn env() -> Env {
    Env::start_with(|b| b.receipt_timeout(Duration::from_secs(1))).await
}

#[tokio::test]
async fn evm_slow_node_retry_waits_for_the_submitted_transfer() {
    retry_after_a_receipt_timeout_is_served(env().await, Node::Slow).await;
}

#[tokio::test]
async fn evm_slow_node_retry_submits_again_what_the_node_forgot() {
    retry_after_a_receipt_timeout_is_served(env().await, Node::Forgets).await;
}

/// With the claims in a real Redis.
#[cfg(feature = "redis")]
#[tokio::test]
async fn evm_slow_node_retry_is_served_with_the_claims_in_redis() {
    let server = tokio::task::spawn_blocking(crate::support::redis_server::RedisServer::start)
        .await
        .unwrap();
    let store = tower_mpp::store::RedisStore::builder(server.url())
        .connect()
        .await
        .unwrap();
    let env = Env::start_on(store, |b| b.receipt_timeout(Duration::from_secs(1))).await;
    retry_after_a_receipt_timeout_is_served(env, Node::Slow).await;
}
