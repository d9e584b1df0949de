//! EVM charges between us and a peer we did not write, on a plain anvil
//! with our EIP-3009 stablecoin: mppx 0.11's `mppx/evm` client pays our
//! `EvmCharge`, and our `EvmProvider` pays its server (EIP-3009
//! authorizations, the one type mppx speaks). Receipts checked, the
//! transfers on chain, a replayed credential refused. Test names carry
//! `evm` so that `scripts/test evm` runs them.

#![cfg(all(feature = "evm", feature = "client", feature = "axum"))]

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/evm_chain.rs"]
#[allow(dead_code)]
mod evm_chain;
#[path = "../support/listening.rs"]
mod listening;

mod support {
    pub(crate) use super::anvil;
}

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::client::{EvmProvider, PaymentExt as _, PaymentProvider as _, ReceiptExt as _};
use tower_mpp::evm::{CredentialType, EvmCharge};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Receipt, parse_challenges};

use evm_chain::{EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};
use listening::{Listening, random_secret};

/// 0.01 of the 6-decimal token.
const PRICE: u128 = 10_000;

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

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap()
    }
}

/// Our server on `chain`, offering `authorization` only (mppx's client
/// refuses a challenge listing types it does not know): its `/paid` URL.
async fn our_server(chain: &EvmChain, recipient: Address) -> String {
    let method = EvmCharge::builder()
        .recipient(recipient.to_string())
        .currency(chain.token.to_string())
        .rpc_url(&chain.anvil.url)
        .gas_payer_key(GAS_KEY)
        .authorization_domain(TOKEN_NAME, TOKEN_VERSION)
        .credential_types([CredentialType::Authorization])
        .connect()
        .await
        .unwrap();
    let payments = Payments::builder()
        .realm("127.0.0.1")
        .secret("evm peer tests: a secret of thirty-two bytes or more")
        .method(method)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/paid", get(|_: Charge<OneCent>| async { "served" }))
        .layer(PaymentLayer::new(payments));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paid", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn evm_mppx_client_pays_our_server() {
    let chain = EvmChain::start().await;
    let recipient = PrivateKeySigner::random().address();
    let url = our_server(&chain, recipient).await;
    let payer = chain.funded_payer(PRICE).await;
    let mut command = mppx(&chain, "pay");
    command
        .env("PAY_URL", &url)
        .env("PAYER_KEY", alloy::hex::encode_prefixed(payer.to_bytes()));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("node does not run: {e}; {MPPX_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mppx failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
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
