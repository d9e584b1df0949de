//! mppx 0.11's `mppx/evm` client pays our `EvmCharge`; our `EvmProvider`
//! pays its server (`tests/peers/mppx_evm.mjs`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use tower_mpp::client::{EvmProvider, PaymentExt as _, PaymentProvider as _, ReceiptExt as _};
use tower_mpp::evm::CredentialType;
use tower_mpp::protocol::{Receipt, parse_challenges};

use crate::evm_chain::{EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};
use crate::listening::{Listening, random_secret};
use crate::{PRICE, our_server, run_payer};

const MPPX_HINT: &str = "run `scripts/test` once (it installs mppx 0.11 and viem into \
     .tools/node_modules with npm), or set MPPX_NODE_MODULES to a node_modules holding them";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/mppx_evm.mjs")
}

/// `node tests/peers/mppx_evm.mjs` with the chain's settings.
fn mppx(chain: &EvmChain, mode: &str) -> Command {
    let mut command = Command::new("node");
    command
        .arg(script())
        .env("MODE", mode)
        .env("EVM_RPC_URL", &chain.anvil.url)
        .env("EVM_CURRENCY", chain.token.to_string())
        .env("EVM_TOKEN_NAME", TOKEN_NAME)
        .env("EVM_TOKEN_VERSION", TOKEN_VERSION);
    command
}

#[tokio::test]
async fn evm_mppx_client_pays_our_server() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    // `authorization` only: mppx's client refuses a challenge listing types
    // it does not know.
    let url = our_server(&chain, recipient, [CredentialType::Authorization]).await;
    let payer = chain.funded_payer(PRICE).await;
    let mut command = mppx(&chain, "pay");
    command
        .env("PAY_URL", &url)
        .env("PAYER_KEY", alloy::hex::encode_prefixed(payer.to_bytes()));
    let line = run_payer(command, "mppx", MPPX_HINT).await;
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["body"], "served");
    let receipt = Receipt::parse(line["receipt"].as_str().unwrap()).unwrap();
    assert_eq!(receipt.method, "evm");
    assert_eq!(chain.balance(recipient).await, U256::from(PRICE));
    assert_eq!(chain.balance(payer.address()).await, U256::ZERO);
}

#[tokio::test]
async fn evm_our_client_pays_the_mppx_server() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    let mut command = mppx(&chain, "serve");
    command
        .env("EVM_RECIPIENT", recipient.to_string())
        .env("EVM_GAS_PAYER_KEY", GAS_KEY)
        .env("MPP_SECRET_KEY", random_secret())
        .stdin(std::process::Stdio::piped());
    let server = Listening::start(
        &mut command,
        "the mppx EVM server",
        "listening ",
        Duration::from_secs(60),
        MPPX_HINT,
    );
    let url = format!("{}/paid", server.url);
    let payer = chain.funded_payer(2 * PRICE).await;
    let provider = EvmProvider::new(payer.clone(), &chain.anvil.url)
        .unwrap()
        .authorization_domain(chain.token, TOKEN_NAME, TOKEN_VERSION);
    let http = reqwest::Client::new();
    let response = http.get(&url).send_with_payment(&provider).await.unwrap();
    assert_eq!(response.status(), 200, "{}", server.stderr());
    let receipt = response.payment_receipt().unwrap().unwrap();
    assert_eq!(receipt.method, "evm");
    assert_eq!(chain.balance(recipient).await, U256::from(PRICE));

    // A credential of ours, sent twice: paid once.
    let unpaid = http.get(&url).send().await.unwrap();
    assert_eq!(unpaid.status(), 402);
    let values: Vec<&str> = unpaid
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let challenge = parse_challenges(values).unwrap().remove(0);
    let header = provider.pay(&challenge).await.unwrap().to_header().unwrap();
    let first = http
        .get(&url)
        .header("authorization", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200, "{}", server.stderr());
    let again = http
        .get(&url)
        .header("authorization", &header)
        .send()
        .await
        .unwrap();
    assert_ne!(again.status(), 200);
    assert_eq!(chain.balance(recipient).await, U256::from(2 * PRICE));
    assert_eq!(chain.balance(payer.address()).await, U256::ZERO);
}
