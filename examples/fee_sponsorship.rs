//! The server pays the payers' transaction fees.
//!
//! With a fee payer key, challenges say `feePayer: true`: the client signs
//! a transaction that only moves the charge, the server co-signs it as fee
//! payer and broadcasts it (pull mode only: a transaction hash cannot be
//! co-signed). A price can turn sponsorship off for its route.
//!
//! - `GET /sponsored`: 0.01, fees paid by the server;
//! - `GET /unsponsored`: 0.01, fees paid by the payer (pull or push).
//!
//! The fee payer's address is printed at start-up: fund it with the fee
//! token (by default the charge's currency).
//!
//! Configuration, from the environment: `TEMPO_FEE_PAYER_KEY` (required,
//! a secp256k1 private key in hex), `TEMPO_RECIPIENT` and `MPP_SECRET_KEY`
//! (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`, `TEMPO_CURRENCY`,
//! `MPP_REALM` and `ADDR` (default `127.0.0.1:3000`), as in the `basic`
//! example.
//!
//! ```text
//! TEMPO_FEE_PAYER_KEY=0x... \
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example fee_sponsorship
//! curl -i http://127.0.0.1:3000/sponsored
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::{MAINNET_RPC_URL, TempoCharge};

struct Sponsored;
impl StaticPrice for Sponsored {
    fn price() -> Price {
        Price::new("0.01").expect("0.01 is a decimal")
    }
}

struct Unsponsored;
impl StaticPrice for Unsponsored {
    fn price() -> Price {
        Price::new("0.01")
            .expect("0.01 is a decimal")
            .sponsor_fees(false)
    }
}

async fn sponsored(_: Charge<Sponsored>) -> &'static str {
    "paid, and the fees were on us\n"
}

async fn unsponsored(_: Charge<Unsponsored>) -> &'static str {
    "paid, fees included\n"
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = env("ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let host = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(host, _)| host);
    let tempo = tempo_from_env().await?;
    if let Some(fee_payer) = tempo.fee_payer() {
        eprintln!("fee payer {fee_payer} on chain {}", tempo.chain_id());
    }
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo)
        .build()?;

    let app = Router::new()
        .route("/sponsored", get(sponsored))
        .route("/unsponsored", get(unsponsored))
        .layer(PaymentLayer::new(payments));

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The Tempo method, configured from the `TEMPO_*` variables, with the fee
/// payer key from `TEMPO_FEE_PAYER_KEY`.
async fn tempo_from_env() -> Result<TempoCharge, Box<dyn Error>> {
    let recipient = env("TEMPO_RECIPIENT")
        .ok_or("TEMPO_RECIPIENT is not set; set it to the address that receives payments")?;
    let mut tempo = TempoCharge::builder()
        .recipient(recipient)
        .rpc_url(env("TEMPO_RPC_URL").unwrap_or_else(|| MAINNET_RPC_URL.to_owned()))
        // Refuses to build without it: this example is about sponsorship.
        .fee_payer_from_env("TEMPO_FEE_PAYER_KEY");
    if let Some(currency) = env("TEMPO_CURRENCY") {
        tempo = tempo.currency(currency);
    }
    let tempo = match env("TEMPO_CHAIN_ID") {
        Some(id) => {
            let id = id
                .parse()
                .map_err(|_| format!("TEMPO_CHAIN_ID {id:?} is not a chain id"))?;
            tempo.chain_id(id).build()
        }
        None => tempo.connect().await,
    };
    Ok(tempo.map_err(|e| format!("Tempo: {e}"))?)
}

/// A variable's value, if set and not blank.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
