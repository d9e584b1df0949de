//! Pull mode: the server broadcasts the client's signed transaction.

use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;

use crate::common::{Env, PRICE};
use crate::support::anvil::{CHAIN_ID, PATH_USD};
use crate::support::tempo_payer::{
    credential, honest, honest_calls, pull_payload, sign, source, transaction,
};

#[tokio::test]
async fn a_signed_transfer_pays_once_and_the_recipient_is_paid() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(
        &challenge,
        pull_payload(&signed, payer.address()),
        source(CHAIN_ID, &payer),
    );
    let before = env.path_usd(payer.address()).await;

    let receipt = env.get("/paid", Some(&auth)).await.assert_paid();

    assert_eq!(receipt.method, "tempo");
    let hash: B256 = receipt.reference.parse().unwrap();
    let on_chain: serde_json::Value = env
        .anvil
        .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await;
    assert_eq!(on_chain["status"], "0x1");
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
    assert!(env.path_usd(payer.address()).await <= before - U256::from(PRICE));
    assert_eq!(env.handled(), 1);

    // The same credential again: the challenge is spent.
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
}

#[tokio::test]
async fn concurrent_submissions_of_one_credential_settle_once() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    let replies = env.get_concurrently("/paid", &auth, 8).await;
    let paid = replies.iter().filter(|status| **status == 200).count();
    assert_eq!(paid, 1, "{replies:?}");
    assert_eq!(env.handled(), 1);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
}

#[tokio::test]
async fn splits_pay_every_recipient_and_the_rest_to_the_main_one() {
    let platform = PrivateKeySigner::random().address();
    let env = Env::start_with(|b| b.split(platform.to_string(), 2_500)).await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let calls = honest_calls(&challenge);
    assert_eq!(calls.len(), 2);
    let signed = sign(&payer, transaction(CHAIN_ID, calls, PATH_USD, false));
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    env.get("/paid", Some(&auth)).await.assert_paid();
    assert_eq!(env.path_usd(platform).await, U256::from(2_500));
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE - 2_500));
}

#[tokio::test]
async fn a_route_memo_is_paid_with_transfer_with_memo() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/memo").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    let receipt = env.get("/memo", Some(&auth)).await.assert_paid();
    assert_eq!(receipt.external_id.as_deref(), Some("order-7"));
}

#[tokio::test]
async fn a_currency_override_is_paid_in_that_currency() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/alpha").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    env.get("/alpha", Some(&auth)).await.assert_paid();
    let alpha = env
        .anvil
        .balance(crate::support::anvil::ALPHA_USD, env.recipient)
        .await;
    assert_eq!(alpha, U256::from(PRICE));
}
