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

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::{MAINNET_RPC_URL, TempoCharge};

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
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo_from_env().await?)
        .build()?;

    let app = Router::new()
        .route("/joke", get(joke))
        .route("/article", get(article))
        .route("/report", get(report))
        .layer(PaymentLayer::new(payments))
        .route("/", get(prices));

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The Tempo method, configured from the `TEMPO_*` variables.
async fn tempo_from_env() -> Result<TempoCharge, Box<dyn Error>> {
    let recipient = env("TEMPO_RECIPIENT")
        .ok_or("TEMPO_RECIPIENT is not set; set it to the address that receives payments")?;
    let mut tempo = TempoCharge::builder()
        .recipient(recipient)
        .rpc_url(env("TEMPO_RPC_URL").unwrap_or_else(|| MAINNET_RPC_URL.to_owned()));
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
