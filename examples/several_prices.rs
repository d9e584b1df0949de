//! Several prices on one router: each route names its price with a type.
//!
//! - `GET /joke`: 0.01;
//! - `GET /article`: 0.25, with a description for the payer and an external
//!   id that comes back in the receipt;
//! - `GET /report`: 1.00;
//! - `GET /`: free, the price list.
//!
//! Configuration, from the environment: `TEMPO_RECIPIENT` and
//! `MPP_SECRET_KEY` (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`,
//! `TEMPO_CURRENCY`, `MPP_REALM` and `ADDR` (default `127.0.0.1:3000`), as
//! in the `basic` example.
//!
//! ```text
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example several_prices
//! curl -i http://127.0.0.1:3000/article
//! ```

mod common;

use std::error::Error;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;

/// A price from a decimal literal (`Price::new` only refuses text that is
/// not a non-negative decimal, which a literal here never is).
fn price(decimal: &str) -> Price {
    Price::new(decimal).expect("a literal decimal price")
}

struct Joke;
impl StaticPrice for Joke {
    fn price() -> Price {
        price("0.01")
    }
}

struct Article;
impl StaticPrice for Article {
    fn price() -> Price {
        price("0.25")
            .description("The article \"Paying machines\"")
            .external_id("article-42")
    }
}

struct Report;
impl StaticPrice for Report {
    fn price() -> Price {
        price("1.00").description("The quarterly report")
    }
}

async fn joke(_: Charge<Joke>) -> &'static str {
    "Why did the agent pay? It had no account.\n"
}

async fn article(charge: Charge<Article>) -> Json<Value> {
    Json(json!({
        "title": "Paying machines",
        "reference": charge.receipt().reference,
        "externalId": charge.receipt().external_id,
    }))
}

async fn report(_: Charge<Report>) -> Json<Value> {
    Json(json!({"quarter": "Q3", "revenue": "402.00"}))
}

async fn prices() -> Json<Value> {
    Json(json!({"/joke": "0.01", "/article": "0.25", "/report": "1.00"}))
}

#[tokio::main]
async fn main() -> ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = common::addr();
    let payments = common::payments(&addr, TempoCharge::builder().from_env())
        .await?
        .build()?;
    let app = Router::new()
        .route("/joke", get(joke))
        .route("/article", get(article))
        .route("/report", get(report))
        .layer(PaymentLayer::new(payments))
        .route("/", get(prices));
    common::serve(common::listen(&addr).await?, app).await?;
    Ok(())
}
