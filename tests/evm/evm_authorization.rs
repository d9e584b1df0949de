//! `type="authorization"`: EIP-3009 `transferWithAuthorization`, nonce =
//! the challenge hash, submitted by the server's gas key.

use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;
use tower_mpp::evm::{CredentialType, SponsorBudget};

use crate::common::{Env, PRICE, authorization_payload, credential, good_authorization, now};
use crate::support::evm_chain::EVM_CHAIN_ID;

#[tokio::test]
async fn evm_authorization_pays_once_and_moves_the_tokens() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    assert_eq!(challenge.method, "evm");
    let details = Env::details(&challenge);
    assert_eq!(details["chainId"], EVM_CHAIN_ID);
    assert_eq!(
        details["credentialTypes"],
        json!(["permit2", "authorization", "transaction", "hash"])
    );
    assert_eq!(details["decimals"], 6);
    let auth = good_authorization(&payer, &env, &challenge);
    let header = credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        Some(payer.address()),
    );
    let receipt = env.get(Some(&header)).await.assert_paid();
    assert_eq!(receipt.method, "evm");
    // The reference is the transaction that moved the tokens.
    let transfers = env.chain.transfers_in(&receipt.reference).await;
    assert_eq!(
        transfers,
        [(payer.address(), env.recipient, U256::from(PRICE))]
    );
    // The draft's receipt fields: the challenge paid and the chain.
    assert_eq!(receipt.extra["challengeId"], challenge.id.as_str());
    assert_eq!(receipt.extra["chainId"], EVM_CHAIN_ID);
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    assert_eq!(env.chain.balance(payer.address()).await, U256::ZERO);
    // The same credential again: refused, nothing served twice.
    env.get(Some(&header))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn evm_authorization_refuses_what_the_draft_refuses() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    let good = good_authorization(&payer, &env, &challenge);
    let stranger = PrivateKeySigner::random();
    let cases = [
        (
            "to",
            json!({"to": stranger.address()}),
            "verification-failed",
        ),
        (
            "value",
            json!({"value": U256::from(PRICE - 1)}),
            "payment-insufficient",
        ),
        (
            "nonce",
            json!({"nonce": B256::repeat_byte(7)}),
            "verification-failed",
        ),
        (
            "validBefore",
            json!({"validBefore": U256::from(now() - 1)}),
            "payment-expired",
        ),
        (
            "validAfter",
            json!({"validAfter": U256::from(now() + 60)}),
            "verification-failed",
        ),
    ];
    for (what, change, code) in cases {
        let mut auth = good;
        match what {
            "to" => auth.to = stranger.address(),
            "value" => auth.value = U256::from(PRICE - 1),
            "nonce" => auth.nonce = B256::repeat_byte(7),
            "validBefore" => auth.valid_before = U256::from(now() - 1),
            _ => auth.valid_after = U256::from(now() + 60),
        }
        let header = credential(
            &challenge,
            authorization_payload(&payer, env.chain.token, &auth),
            None,
        );
        let detail = env.get(Some(&header)).await.assert_rejected(402, code);
        assert!(!detail.is_empty(), "{what} {change}");
    }
    // Signed by someone else than `from`.
    let forged = authorization_payload(&stranger, env.chain.token, &good);
    env.get(Some(&credential(&challenge, forged, None)))
        .await
        .assert_rejected(402, "verification-failed");
    // A source that is not the signer.
    let named = authorization_payload(&payer, env.chain.token, &good);
    env.get(Some(&credential(
        &challenge,
        named.clone(),
        Some(stranger.address()),
    )))
    .await
    .assert_rejected(402, "verification-failed");
    // Signed for another token (another EIP-712 domain).
    let other_token = authorization_payload(&payer, stranger.address(), &good);
    env.get(Some(&credential(&challenge, other_token, None)))
        .await
        .assert_rejected(402, "verification-failed");
    assert_eq!(env.chain.balance(env.recipient).await, U256::ZERO);
    // None of that used the challenge up: the good one pays.
    env.get(Some(&credential(&challenge, named, None)))
        .await
        .assert_paid();
    assert_eq!(env.handled(), 1);
}

/// A payer without the tokens: the simulation refuses it before the gas
/// key signs anything, so it costs the server nothing.
#[tokio::test]
async fn evm_authorization_that_would_revert_is_never_sent() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE - 1).await;
    let gas_key = env.method.gas_payer().unwrap();
    let nonce_before: String = env
        .chain
        .anvil
        .rpc("eth_getTransactionCount", json!([gas_key, "latest"]))
        .await;
    let challenge = env.challenge().await;
    let auth = good_authorization(&payer, &env, &challenge);
    let header = credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        None,
    );
    let detail = env
        .get(Some(&header))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("would fail on chain"), "{detail}");
    let nonce_after: String = env
        .chain
        .anvil
        .rpc("eth_getTransactionCount", json!([gas_key, "latest"]))
        .await;
    assert_eq!(nonce_before, nonce_after, "the gas key sent nothing");
    assert_eq!(env.handled(), 0);
}

/// Past the gas budget, server-paid credentials wait (503, Retry-After):
/// nothing is sent and the authorization stays usable.
#[tokio::test]
async fn evm_gas_budget_spent_is_503() {
    let env = Env::start_with(|b| {
        b.gas_budget(SponsorBudget {
            max_fees: 1,
            window: std::time::Duration::from_secs(3600),
        })
    })
    .await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    let auth = good_authorization(&payer, &env, &challenge);
    let header = credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        None,
    );
    let reply = env.get(Some(&header)).await;
    assert_eq!(reply.status.as_u16(), 503, "{}", reply.text());
    assert!(reply.headers.get("retry-after").is_some());
    assert!(reply.receipt().is_none());
    assert_eq!(env.chain.balance(payer.address()).await, U256::from(PRICE));
}

/// Without the token's EIP-712 domain the server does not know it
/// implements EIP-3009: `authorization` is neither offered nor accepted.
#[tokio::test]
async fn evm_authorization_is_offered_only_for_eip3009_tokens() {
    let env = Env::start_with(|b| {
        b.credential_types([CredentialType::Permit2, CredentialType::Transaction])
    })
    .await;
    let payer = env.chain.funded_payer(PRICE).await;
    let challenge = env.challenge().await;
    assert_eq!(
        Env::details(&challenge)["credentialTypes"],
        json!(["permit2", "transaction"])
    );
    let auth = good_authorization(&payer, &env, &challenge);
    let header = credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        None,
    );
    env.get(Some(&header))
        .await
        .assert_rejected(402, "verification-failed");
    let refused = tower_mpp::evm::EvmCharge::builder()
        .recipient(env.recipient.to_string())
        .currency(env.chain.token.to_string())
        .rpc_url(&env.chain.anvil.url)
        .chain_id(EVM_CHAIN_ID)
        .gas_payer_key(crate::support::evm_chain::GAS_KEY)
        .credential_types([CredentialType::Authorization])
        .build();
    assert!(refused.is_err(), "authorization without a token domain");
}
