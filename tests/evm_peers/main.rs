//! EVM charges between us and peers we did not write, on a plain anvil with
//! our EIP-3009 stablecoin, both ways: mppx 0.11's `mppx/evm` (`mppx.rs`) and
//! pympp 0.16's `mpp.methods.evm` (`pympp.rs`) pay our `EvmCharge`, and our
//! `EvmProvider` pays their servers, with EIP-3009 authorizations (the one
//! type both speak). Receipts checked, the transfers on chain, a replayed
//! credential refused. Test names start with `evm_` so that
//! `scripts/test evm` runs them.

#![cfg(all(feature = "evm", feature = "client", feature = "axum"))]

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/evm_chain.rs"]
#[allow(dead_code)]
mod evm_chain;
#[path = "../support/listening.rs"]
mod listening;
#[path = "../support/pympp_venv.rs"]
mod pympp_venv;

mod support {
    pub(crate) use super::anvil;
}

mod mppx;
mod pympp;

use std::process::Command;

use alloy::primitives::Address;
use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::evm::{CredentialType, EvmCharge};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};

use evm_chain::{EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};

/// 0.01 of the 6-decimal token.
const PRICE: u128 = 10_000;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap()
    }
}

/// Our server on `chain`, offering `types`: its `/paid` URL.
async fn our_server(
    chain: &EvmChain,
    recipient: Address,
    types: impl IntoIterator<Item = CredentialType>,
) -> String {
    let method = EvmCharge::builder()
        .recipient(recipient.to_string())
        .currency(chain.token.to_string())
        .rpc_url(&chain.anvil.url)
        .gas_payer_key(GAS_KEY)
        .authorization_domain(TOKEN_NAME, TOKEN_VERSION)
        .credential_types(types)
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

/// Runs a peer's paying `command` (`name` in panics, `hint` on how to
/// install it) and parses the one JSON line it prints.
async fn run_payer(mut command: Command, name: &str, hint: &str) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{name} does not run: {e}; {hint}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{name} printed {stdout}: {e}"))
}
