//! Our `EvmProvider` paying our `EvmCharge` over real HTTP on a plain
//! anvil: each credential type end to end (balances checked), its
//! credential refused when replayed, the challenge's order followed, and a
//! spending policy refusing before anything is signed.

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;
use tower_mpp::client::{
    ClientError, EvmProvider, Limited, PaymentExt as _, PaymentProvider as _, PolicyViolation,
    ReceiptExt as _, SpendingPolicy, WithPolicy as _,
};
use tower_mpp::evm::CredentialType;

use crate::common::{Env, PRICE, REALM};
use crate::support::evm_chain::{EVM_CHAIN_ID, TOKEN_NAME, TOKEN_VERSION};

/// `env`'s app served on loopback: its URL.
async fn serve(env: &Env) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = env.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A provider for `payer` on `env`'s chain paying only `types`, under a
/// policy that pays `env`'s realm (it is not the loopback host) and
/// `policy`'s rules.
fn provider(
    env: &Env,
    payer: &PrivateKeySigner,
    types: &[CredentialType],
    policy: SpendingPolicy,
) -> Limited<EvmProvider> {
    EvmProvider::new(payer.clone(), &env.chain.anvil.url)
        .unwrap()
        .authorization_domain(env.chain.token, TOKEN_NAME, TOKEN_VERSION)
        .credential_types(types.iter().copied())
        .with_policy(policy.allow_realm(REALM))
}

async fn nonce(env: &Env, who: Address) -> String {
    env.chain
        .anvil
        .rpc("eth_getTransactionCount", json!([who, "latest"]))
        .await
}

/// Pays `/paid` with `kind` over HTTP (balances checked), then pays a
/// fresh challenge directly and replays that credential: refused.
async fn pays_once_with(kind: CredentialType) {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(2 * PRICE).await;
    if kind == CredentialType::Permit2 {
        env.chain.approve_permit2(payer.address()).await;
    }
    let url = serve(&env).await;
    let policy = SpendingPolicy::new()
        .max_per_request(env.chain.token.to_string(), PRICE)
        .allow_recipient(env.recipient.to_string())
        .allow_chain_id(EVM_CHAIN_ID);
    let provider = provider(&env, &payer, &[kind], policy);
    let response = reqwest::Client::new()
        .get(format!("{url}/paid"))
        .send_with_payment(&provider)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.payment_receipt().expect("a receipt").unwrap();
    assert_eq!(receipt.method, "evm");
    assert_eq!(response.text().await.unwrap(), "served");
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    assert_eq!(env.chain.balance(payer.address()).await, U256::from(PRICE));
    assert_eq!(provider.policy().spent(&env.chain.token.to_string()), PRICE);

    let challenge = env.challenge().await;
    let credential = provider.pay(&challenge).await.unwrap();
    assert_eq!(credential.payload["type"], kind.as_str());
    let header = credential.to_header().unwrap();
    env.get(Some(&header)).await.assert_paid();
    env.get(Some(&header))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(
        env.chain.balance(env.recipient).await,
        U256::from(2 * PRICE)
    );
    assert_eq!(env.handled(), 2);
}

#[tokio::test]
async fn evm_client_pays_with_permit2() {
    pays_once_with(CredentialType::Permit2).await;
}

#[tokio::test]
async fn evm_client_pays_with_authorization() {
    pays_once_with(CredentialType::Authorization).await;
}

#[tokio::test]
async fn evm_client_pays_with_transaction() {
    pays_once_with(CredentialType::Transaction).await;
}

#[tokio::test]
async fn evm_client_pays_with_hash() {
    pays_once_with(CredentialType::Hash).await;
}

/// The challenge's order decides among what the provider pays; Permit2
/// without the payer's approval is passed over.
#[tokio::test]
async fn evm_client_follows_the_challenges_order() {
    let env = Env::start_with(|b| {
        b.credential_types([
            CredentialType::Permit2,
            CredentialType::Hash,
            CredentialType::Authorization,
        ])
    })
    .await;
    let payer = env.chain.funded_payer(3 * PRICE).await;
    let all = [
        CredentialType::Authorization,
        CredentialType::Transaction,
        CredentialType::Hash,
        CredentialType::Permit2,
    ];
    let pay = async |types: &[CredentialType]| {
        let challenge = env.challenge().await;
        provider(&env, &payer, types, SpendingPolicy::new())
            .pay(&challenge)
            .await
            .map(|c| c.payload["type"].as_str().unwrap().to_owned())
    };
    // Not approved for Permit2: the next listed, hash.
    assert_eq!(pay(&all).await.unwrap(), "hash");
    env.chain.approve_permit2(payer.address()).await;
    assert_eq!(pay(&all).await.unwrap(), "permit2");
    assert_eq!(
        pay(&[CredentialType::Authorization]).await.unwrap(),
        "authorization"
    );
    // Nothing in common: refused, not failed.
    let refused = pay(&[CredentialType::Transaction]).await.unwrap_err();
    assert!(
        refused.to_string().contains("credential types"),
        "{refused}"
    );
}

/// Each rule of the policy refuses before the provider runs: nothing is
/// signed or broadcast (the payer's nonce and balance stay), the server
/// never sees a credential.
#[tokio::test]
async fn evm_client_policy_refusals_sign_nothing() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let url = serve(&env).await;
    let token = env.chain.token.to_string();
    let stranger = PrivateKeySigner::random().address().to_string();
    let policies = [
        SpendingPolicy::new().max_per_request(&token, PRICE - 1),
        SpendingPolicy::new().max_total(&token, PRICE - 1),
        SpendingPolicy::new().allow_currency(&stranger),
        SpendingPolicy::new().allow_recipient(&stranger),
        SpendingPolicy::new().allow_chain_id(EVM_CHAIN_ID + 1),
    ];
    let nonce_before = nonce(&env, payer.address()).await;
    for policy in policies {
        // `hash` would broadcast a transfer at once.
        let provider = provider(&env, &payer, &[CredentialType::Hash], policy);
        let error = reqwest::Client::new()
            .get(format!("{url}/paid"))
            .send_with_payment(&provider)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::PolicyRefused(ref v) if !matches!(v, PolicyViolation::Unpriced(_))),
            "{error:?}"
        );
        assert_eq!(provider.policy().spent(&token), 0);
    }
    assert_eq!(nonce(&env, payer.address()).await, nonce_before);
    assert_eq!(env.chain.balance(payer.address()).await, U256::from(PRICE));
    assert_eq!(env.handled(), 0);
}
