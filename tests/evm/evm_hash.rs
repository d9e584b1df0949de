//! `type="hash"`: a transfer the client broadcast, found by its receipt
//! and `Transfer` log.

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;

use crate::common::{Env, PRICE, credential, signed_transfer};
use crate::support::evm_chain::EVM_CHAIN_ID;

/// Broadcasts a signed transfer; its hash.
async fn broadcast(env: &Env, raw: &[u8]) -> String {
    let hash: String = env
        .chain
        .anvil
        .rpc(
            "eth_sendRawTransaction",
            json!([alloy::hex::encode_prefixed(raw)]),
        )
        .await;
    for _ in 0..100 {
        let receipt: Option<serde_json::Value> = env
            .chain
            .anvil
            .rpc("eth_getTransactionReceipt", json!([hash]))
            .await;
        if receipt.is_some() {
            return hash;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not mined");
}

fn payload(hash: &str) -> serde_json::Value {
    json!({"type": "hash", "hash": hash})
}

#[tokio::test]
async fn evm_hash_pays_once() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    let (raw, _) = signed_transfer(
        &payer,
        EVM_CHAIN_ID,
        env.chain.token,
        env.recipient,
        PRICE,
        0,
    );
    let hash = broadcast(&env, &raw).await;
    let receipt = env
        .get(Some(&credential(
            &challenge,
            payload(&hash),
            Some(payer.address()),
        )))
        .await
        .assert_paid();
    assert_eq!(receipt.reference, hash);
    let second = env.challenge().await;
    env.get(Some(&credential(&second, payload(&hash), None)))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn evm_hash_refuses_what_the_draft_refuses() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(4 * PRICE).await;
    // Mined before the challenge was issued: made for something else.
    let (raw, _) = signed_transfer(
        &payer,
        EVM_CHAIN_ID,
        env.chain.token,
        env.recipient,
        PRICE,
        0,
    );
    let early = broadcast(&env, &raw).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let challenge = env.challenge().await;
    env.get(Some(&credential(&challenge, payload(&early), None)))
        .await
        .assert_rejected(402, "invalid-challenge");
    // Unknown, to someone else, short, from another payer than the source.
    let stranger = PrivateKeySigner::random().address();
    let unknown = format!("0x{}", "ab".repeat(32));
    env.get(Some(&credential(&challenge, payload(&unknown), None)))
        .await
        .assert_rejected(402, "verification-failed");
    let (raw, _) = signed_transfer(&payer, EVM_CHAIN_ID, env.chain.token, stranger, PRICE, 1);
    let elsewhere = broadcast(&env, &raw).await;
    env.get(Some(&credential(&challenge, payload(&elsewhere), None)))
        .await
        .assert_rejected(402, "verification-failed");
    let (raw, _) = signed_transfer(
        &payer,
        EVM_CHAIN_ID,
        env.chain.token,
        env.recipient,
        PRICE - 1,
        2,
    );
    let short = broadcast(&env, &raw).await;
    env.get(Some(&credential(&challenge, payload(&short), None)))
        .await
        .assert_rejected(402, "verification-failed");
    env.get(Some(&credential(&challenge, payload("0x1234"), None)))
        .await
        .assert_rejected(402, "malformed-credential");
    let (raw, _) = signed_transfer(
        &payer,
        EVM_CHAIN_ID,
        env.chain.token,
        env.recipient,
        PRICE,
        3,
    );
    let good = broadcast(&env, &raw).await;
    env.get(Some(&credential(
        &challenge,
        payload(&good),
        Some(stranger),
    )))
    .await
    .assert_rejected(402, "verification-failed");
    // The refusals did not spend the challenge nor the transfer.
    env.get(Some(&credential(
        &challenge,
        payload(&good),
        Some(payer.address()),
    )))
    .await
    .assert_paid();
    assert_eq!(env.handled(), 1);
    let _ = U256::ZERO;
}
