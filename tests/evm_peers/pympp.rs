//! pympp 0.16's `mpp.methods.evm` client pays our `EvmCharge`; our
//! `EvmProvider` pays its server (`tests/peers/pympp_evm.py`).
//!
//! Where pympp 0.16 departs from draft-evm-charge-00 (we follow the draft):
//! - the challenge hash, an authorization's nonce: pympp hashes
//!   `json.dumps([id, realm])`, the draft `id ‖ realm`. Neither side accepts
//!   the other's, so the paying tests run pympp with the draft's hash
//!   swapped in (`CHALLENGE_HASH=draft`, the one change to pympp) and two
//!   tests pin the refusal of pympp as installed, nothing moving on chain;
//! - its receipts carry neither `challengeId` nor `chainId`;
//! - its request's `methodDetails` has no `permit2Address` (the draft's
//!   REQUIRED field, canonical by default: our client reads it so);
//! - its server answers a replayed credential 403 without a challenge.
//!
//! As the draft has it: the payload's fields, the EIP-712 domain (its name
//! and version configured on each side, not sent), `validAfter` 0 and
//! `validBefore` the challenge's expiry (so, unlike its Tempo client, no
//! clock shift is needed), a `did:pkh` source.

use std::process::Command;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use tower_mpp::client::{
    ClientError, EvmProvider, PaymentExt as _, PaymentProvider as _, ReceiptExt as _,
};
use tower_mpp::evm::CredentialType;
use tower_mpp::protocol::{Credential, Receipt, parse_challenges};

use crate::evm_chain::{EVM_CHAIN_ID, EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};
use crate::listening::{Listening, random_secret};
use crate::pympp_venv::{PYMPP_HINT, pympp_python};
use crate::{PRICE, our_server, run_payer};

/// `tests/peers/pympp_evm.py` in `mode` on `chain`, with pympp's challenge
/// hash (`"pympp"`) or the draft's (`"draft"`).
fn pympp(chain: &EvmChain, mode: &str, hash: &str) -> Command {
    let mut command = Command::new(pympp_python("the pympp EVM peer"));
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/pympp_evm.py"
        ))
        // Unbuffered, so the ready line and errors show at once.
        .env("PYTHONUNBUFFERED", "1")
        .env("MODE", mode)
        .env("CHALLENGE_HASH", hash)
        .env("EVM_RPC_URL", &chain.anvil.url)
        .env("EVM_CHAIN_ID", EVM_CHAIN_ID.to_string())
        .env("EVM_CURRENCY", chain.token.to_string())
        .env("EVM_TOKEN_NAME", TOKEN_NAME)
        .env("EVM_TOKEN_VERSION", TOKEN_VERSION);
    command
}

/// pympp's client paying `url` once: what it printed.
async fn pympp_pays(
    chain: &EvmChain,
    url: &str,
    payer: &PrivateKeySigner,
    hash: &str,
) -> serde_json::Value {
    let mut command = pympp(chain, "pay", hash);
    command
        .env("PAY_URL", url)
        .env("PAYER_KEY", alloy::hex::encode_prefixed(payer.to_bytes()));
    run_payer(command, "pympp's EVM client", PYMPP_HINT).await
}

/// pympp's server on `chain`, paying `recipient`: its `/paid` URL.
fn pympp_server(chain: &EvmChain, recipient: Address, hash: &str) -> (Listening, String) {
    let mut command = pympp(chain, "serve", hash);
    command
        .env("EVM_RECIPIENT", recipient.to_string())
        .env("EVM_GAS_PAYER_KEY", GAS_KEY)
        .env("MPP_SECRET_KEY", random_secret())
        .stdin(std::process::Stdio::piped());
    let server = Listening::start(
        &mut command,
        "the pympp EVM server",
        "listening ",
        Duration::from_secs(60),
        PYMPP_HINT,
    );
    let url = format!("{}/paid", server.url);
    (server, url)
}

#[tokio::test]
async fn evm_pympp_client_pays_our_server() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    // pympp picks `authorization` from a list that prefers another type.
    let types = [CredentialType::Permit2, CredentialType::Authorization];
    let url = our_server(&chain, recipient, types).await;
    let payer = chain.funded_payer(PRICE).await;
    let line = pympp_pays(&chain, &url, &payer, "draft").await;
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["body"], "served");

    let sent = line["credential"].as_str().unwrap();
    let credential = Credential::parse(sent).unwrap();
    assert_eq!(credential.payload["type"], "authorization");
    let receipt = Receipt::parse(line["receipt"].as_str().unwrap()).unwrap();
    assert_eq!(receipt.method, "evm");
    assert_eq!(
        receipt.extra["challengeId"],
        credential.challenge.id.as_str()
    );
    assert_eq!(receipt.extra["chainId"], EVM_CHAIN_ID);
    let transfers = chain.transfers_in(&receipt.reference).await;
    assert_eq!(transfers, [(payer.address(), recipient, U256::from(PRICE))]);
    assert_eq!(chain.balance(recipient).await, U256::from(PRICE));

    // The same credential again: refused, paid once.
    let again = reqwest::Client::new()
        .get(&url)
        .header("authorization", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 402);
    assert!(again.headers().get("payment-receipt").is_none());
    assert_eq!(chain.balance(recipient).await, U256::from(PRICE));
    assert_eq!(chain.balance(payer.address()).await, U256::ZERO);
}

/// pympp as installed: its nonce is not the draft's challenge hash, so our
/// server refuses the authorization before submitting it.
#[tokio::test]
async fn evm_pympp_client_with_its_own_challenge_hash_is_refused() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    let url = our_server(&chain, recipient, [CredentialType::Authorization]).await;
    let payer = chain.funded_payer(PRICE).await;
    let line = pympp_pays(&chain, &url, &payer, "pympp").await;
    assert_eq!(
        line["hash_is_draft"], false,
        "pympp now hashes challenges as the draft does: drop CHALLENGE_HASH=draft and this test"
    );
    assert!(line["credential"].is_string(), "{line}");
    assert_eq!(line["status"], 402, "{line}");
    let problem: serde_json::Value = serde_json::from_str(line["body"].as_str().unwrap()).unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/verification-failed"),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("nonce"),
        "{problem}"
    );
    assert_eq!(chain.balance(recipient).await, U256::ZERO);
    assert_eq!(chain.balance(payer.address()).await, U256::from(PRICE));
}

#[tokio::test]
async fn evm_our_client_pays_the_pympp_server() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    let (server, url) = pympp_server(&chain, recipient, "draft");
    let payer = chain.funded_payer(2 * PRICE).await;
    let provider = EvmProvider::new(payer.clone(), &chain.anvil.url)
        .unwrap()
        .authorization_domain(chain.token, TOKEN_NAME, TOKEN_VERSION);
    let http = reqwest::Client::new();
    let response = http.get(&url).send_with_payment(&provider).await.unwrap();
    assert_eq!(response.status(), 200, "{}", server.stderr());
    let receipt = response.payment_receipt().unwrap().unwrap();
    assert_eq!(receipt.method, "evm");
    let transfers = chain.transfers_in(&receipt.reference).await;
    assert_eq!(transfers, [(payer.address(), recipient, U256::from(PRICE))]);
    assert_eq!(response.text().await.unwrap(), r#"{"paid": true}"#);

    // A credential of ours, sent twice: paid once.
    let unpaid = http.get(&url).send().await.unwrap();
    assert_eq!(unpaid.status(), 402);
    let values = unpaid.headers().get_all("www-authenticate").iter();
    let challenge = parse_challenges(values.map(|v| v.to_str().unwrap()))
        .unwrap()
        .remove(0);
    let header = provider.pay(&challenge).await.unwrap().to_header().unwrap();
    let send = || http.get(&url).header("authorization", &header).send();
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200, "{}", server.stderr());
    let again = send().await.unwrap();
    // pympp answers a replay 403 without a challenge (not to invite a
    // second payment), where the core draft has 402.
    assert_eq!(again.status(), 403, "{}", server.stderr());
    assert!(again.headers().get("payment-receipt").is_none());
    assert_eq!(chain.balance(recipient).await, U256::from(2 * PRICE));
    assert_eq!(chain.balance(payer.address()).await, U256::ZERO);
}

/// pympp's server as installed refuses our authorization (its nonce is the
/// draft's challenge hash, not pympp's) without settling it.
#[tokio::test]
async fn evm_the_pympp_server_with_its_own_challenge_hash_refuses_ours() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    let (server, url) = pympp_server(&chain, recipient, "pympp");
    let payer = chain.funded_payer(PRICE).await;
    let provider = EvmProvider::new(payer.clone(), &chain.anvil.url)
        .unwrap()
        .authorization_domain(chain.token, TOKEN_NAME, TOKEN_VERSION);
    let error = reqwest::Client::new()
        .get(&url)
        .send_with_payment(&provider)
        .await
        .unwrap_err();
    let ClientError::Rejected { status, problem } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*status, 402);
    let detail = problem.as_ref().and_then(|p| p.detail.clone());
    assert!(
        detail.is_some_and(|d| d.contains("challenge hash mismatch")),
        "{error:?}\n{}",
        server.stderr()
    );
    assert_eq!(chain.balance(recipient).await, U256::ZERO);
    assert_eq!(chain.balance(payer.address()).await, U256::from(PRICE));
}
