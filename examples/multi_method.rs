//! One route, three ways to pay: `GET /paid` costs 0.01, and its `402`
//! offers a Tempo charge, an EVM charge (an ERC-20 token on another chain)
//! and a Tempo session, in that order. A client pays with whichever it
//! can, and `Accept-Payment` reorders or narrows the offers.
//!
//! Configuration, from the environment:
//!
//! - Tempo (the charge and the session): `TEMPO_PAYEE_KEY` (required: the
//!   payee's private key; charges pay the payee too), `TEMPO_ESCROW`
//!   (required off mainnet and testnet), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`,
//!   as for the `stream_words` example;
//! - EVM: `EVM_RECIPIENT`, `EVM_CURRENCY`, `EVM_RPC_URL`,
//!   `EVM_GAS_PAYER_KEY` (the server's gas key, which submits the payers'
//!   signed transfers), `EVM_TOKEN_NAME` and `EVM_TOKEN_VERSION` (the
//!   token's EIP-3009 domain, e.g. `USD Coin` / `2`), all required;
//!   `EVM_CHAIN_ID` (default: asked of the node), `EVM_DECIMALS`,
//!   `EVM_PERMIT2_ADDRESS`;
//! - `MPP_SECRET_KEY` (required), `MPP_REALM`, `ADDR`: as for the `basic`
//!   example.
//!
//! ```text
//! TEMPO_PAYEE_KEY=0x... TEMPO_ESCROW=0x... TEMPO_RPC_URL=http://127.0.0.1:8545 \
//! EVM_RECIPIENT=0x... EVM_CURRENCY=0x... EVM_RPC_URL=http://127.0.0.1:8546 \
//! EVM_GAS_PAYER_KEY=0x... EVM_TOKEN_NAME='USD Coin' EVM_TOKEN_VERSION=2 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo,evm --example multi_method
//! curl -i http://127.0.0.1:3000/paid    # 402 with three Payment challenges
//! ```
//!
//! `scripts/demo` runs it with a Tempo chain and a plain EVM chain, and
//! pays it with the `pay_evm` example.
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo,evm
//! cargo add axum hyper hyper-util serde_json tokio tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,tokio/full,tower-http/timeout
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::axum::Charge;
use tower_mpp::evm::{CredentialType, EvmCharge};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::{SettleThreshold, TempoSession};

struct OneCent;

impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01")
            .expect("0.01 is a decimal")
            .description("One paid greeting")
    }
}

async fn paid(charge: Charge<OneCent>) -> Json<Value> {
    let receipt = charge.receipt();
    Json(json!({
        "message": "Thank you for your payment.",
        "method": receipt.method,
        "reference": receipt.reference,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    // The realm defaults to the host served.
    let host = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(host, _)| host);
    let session = TempoSession::builder()
        .from_env()
        .unit_type("request")
        // One instance, channels in memory: a restart loses the vouchers
        // accepted since the last settlement (every 10 s here).
        .volatile_channel_store(true)
        .build()?;
    let tempo = TempoCharge::builder()
        .from_env()
        .recipient(session.recipient().to_string())
        .connect()
        .await?;
    // Claims are kept in memory: only the credentials bound to their
    // challenge are offered (a `transaction` or `hash` names none, and
    // would need a store that survives restarts, such as Redis).
    let evm = EvmCharge::builder()
        .from_env()
        .credential_types([CredentialType::Permit2, CredentialType::Authorization])
        .connect()
        .await
        .map_err(|e| format!("the EVM charge (EVM_* variables): {e}"))?;
    eprintln!(
        "tempo: chain {}, payee {}, escrow {}; evm: chain {}, token {}, recipient {}",
        session.chain_id(),
        session.recipient(),
        session.escrow(),
        evm.chain_id(),
        evm.currency(),
        evm.recipient()
    );
    // The order of the methods is the order of the offers.
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo)
        .method(evm)
        .method(session.clone())
        .build()?;
    tokio::spawn(
        session.settler(Duration::from_secs(10), SettleThreshold::ANY, |report| {
            for (id, amount, tx) in &report.settled {
                eprintln!("settled {amount} on channel {id} in {tx}");
            }
            for (id, why) in &report.failed {
                eprintln!("settlement of {id} failed (retried): {why}");
            }
        }),
    );
    let app = Router::new()
        .route("/paid", get(paid))
        .layer(PaymentLayer::new(payments));
    serve(&addr, app).await?;
    Ok(())
}

/// Serves `app` on `addr` with time limits: a request head must arrive
/// within 10 s (hyper's timer), and a request be answered within 60 s
/// (a `408` past it; a settlement it started goes on for the retry).
async fn serve(addr: &str, app: Router) -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    // One flushed line that scripts wait for.
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(60),
    ));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait, do not stop serving.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            // A connection's errors (a client gone, a slow head) end it only.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
