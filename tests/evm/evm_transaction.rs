//! `type="transaction"`: a signed EIP-1559 `transfer` the server checks
//! and broadcasts.

use alloy::consensus::{SignableTransaction as _, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718 as _, Encodable2718 as _};
use alloy::primitives::{Signature, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;

use crate::common::{Env, PRICE, credential, signed_transfer};
use crate::support::evm_chain::EVM_CHAIN_ID;

fn payload(raw: &[u8]) -> serde_json::Value {
    json!({"type": "transaction", "signature": alloy::hex::encode_prefixed(raw)})
}

/// `raw` signed again with the malleable twin of its signature: `n - s`,
/// the parity flipped.
fn high_s(raw: &[u8]) -> Vec<u8> {
    let order = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let TxEnvelope::Eip1559(signed) = TxEnvelope::decode_2718(&mut &raw[..]).unwrap() else {
        panic!("an EIP-1559 transaction")
    };
    let low = *signed.signature();
    let high = Signature::new(low.r(), order - low.s(), !low.v());
    TxEnvelope::from(signed.tx().clone().into_signed(high)).encoded_2718()
}

#[tokio::test]
async fn evm_transaction_pays_once() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(2 * PRICE).await;
    let challenge = env.challenge().await;
    let (raw, hash) = signed_transfer(
        &payer,
        EVM_CHAIN_ID,
        env.chain.token,
        env.recipient,
        PRICE,
        0,
    );
    let receipt = env
        .get(Some(&credential(
            &challenge,
            payload(&raw),
            Some(payer.address()),
        )))
        .await
        .assert_paid();
    assert_eq!(receipt.reference, hash.to_string());
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    // The same signed transaction for another challenge: refused.
    let second = env.challenge().await;
    env.get(Some(&credential(&second, payload(&raw), None)))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn evm_transaction_refuses_what_the_draft_refuses() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    let stranger = PrivateKeySigner::random().address();
    let token = env.chain.token;
    let cases = [
        (
            signed_transfer(&payer, 1, token, env.recipient, PRICE, 0).0,
            "verification-failed",
        ),
        (
            signed_transfer(&payer, EVM_CHAIN_ID, stranger, env.recipient, PRICE, 0).0,
            "verification-failed",
        ),
        (
            signed_transfer(&payer, EVM_CHAIN_ID, token, stranger, PRICE, 0).0,
            "verification-failed",
        ),
        (
            signed_transfer(&payer, EVM_CHAIN_ID, token, env.recipient, PRICE - 1, 0).0,
            "payment-insufficient",
        ),
        (vec![0x02, 0xc0], "malformed-credential"),
    ];
    for (raw, code) in cases {
        env.get(Some(&credential(&challenge, payload(&raw), None)))
            .await
            .assert_rejected(402, code);
    }
    // Signed by another account than the source.
    let (raw, _) = signed_transfer(&payer, EVM_CHAIN_ID, token, env.recipient, PRICE, 0);
    env.get(Some(&credential(&challenge, payload(&raw), Some(stranger))))
        .await
        .assert_rejected(402, "verification-failed");
    // The same transaction with the high-`s` twin of its signature: it
    // recovers to the same signer, and EIP-2 refuses it before broadcast.
    let reply = env
        .get(Some(&credential(&challenge, payload(&high_s(&raw)), None)))
        .await;
    reply.assert_rejected(402, "verification-failed");
    assert!(
        reply.text().contains("does not recover"),
        "{}",
        reply.text()
    );
    // A transfer that reverts on chain (more than the payer has) never
    // serves; the client paid its own gas.
    let poor = env.chain.funded_payer(PRICE - 1).await;
    let second = env.challenge().await;
    let (raw, _) = signed_transfer(&poor, EVM_CHAIN_ID, token, env.recipient, PRICE, 0);
    env.get(Some(&credential(&second, payload(&raw), None)))
        .await
        .assert_rejected(402, "verification-failed");
    assert_eq!(env.chain.balance(env.recipient).await, U256::ZERO);
    assert_eq!(env.handled(), 0);
}
