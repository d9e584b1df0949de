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

mod common;

use std::error::Error;
use std::process::ExitCode;

use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;

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
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = common::addr();
    // Refuses to start without the key: this example is about sponsorship.
    let tempo = TempoCharge::builder()
        .from_env()
        .fee_payer_from_env("TEMPO_FEE_PAYER_KEY");
    let payments = common::payments(&addr, tempo).await?.build()?;
    let app = Router::new()
        .route("/sponsored", get(sponsored))
        .route("/unsponsored", get(unsponsored))
        .layer(PaymentLayer::new(payments));
    common::serve(common::listen(&addr).await?, app).await?;
    Ok(())
}
