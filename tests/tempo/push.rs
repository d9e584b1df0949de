//! Push mode: the client broadcasts and presents the transaction hash.

use alloy::primitives::{B256, U256};

use crate::common::{Env, PRICE};
use crate::support::anvil::{Anvil, CHAIN_ID};
use crate::support::tempo_payer::{credential, honest, pull_payload, push_payload, raw, source};
use tempo_alloy::primitives::transaction::AASigned;

/// Broadcasts `signed` and waits for it to be mined.
pub(crate) async fn broadcast(anvil: &Anvil, signed: &AASigned) -> B256 {
    let receipt: serde_json::Value = anvil
        .rpc(
            "eth_sendRawTransactionSync",
            serde_json::json!([raw(signed)]),
        )
        .await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt["transactionHash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_mined_transfer_pays_by_hash_once() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let hash = broadcast(&env.anvil, &signed).await;
    let auth = credential(&challenge, push_payload(hash), source(CHAIN_ID, &payer));

    let receipt = env.get("/paid", Some(&auth)).await.assert_paid();
    assert_eq!(receipt.reference, hash.to_string());
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));

    // The same hash for a fresh challenge: already used.
    let again = env.challenge("/paid").await;
    let auth = credential(&again, push_payload(hash), None);
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn a_replayed_transaction_is_refused_even_when_its_memo_would_match() {
    // With a route memo, the transfer does not name its challenge: only the
    // claim of the transaction stops a second use (hashes are not accepted
    // for such a charge at all; see tests/tempo/abuse.rs).
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let first = env.challenge("/memo").await;
    let signed = honest(&payer, &first, false);
    let payload = pull_payload(&signed, payer.address());
    env.get("/memo", Some(&credential(&first, payload.clone(), None)))
        .await
        .assert_paid();
    let second = env.challenge("/memo").await;
    let detail = env
        .get("/memo", Some(&credential(&second, payload, None)))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert!(detail.contains("already"), "{detail}");
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn an_unknown_hash_is_refused_and_stays_usable() {
    let env = Env::start().await;
    let challenge = env.challenge("/paid").await;
    let auth = credential(&challenge, push_payload(B256::repeat_byte(0xab)), None);
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert_eq!(env.handled(), 0);
}
