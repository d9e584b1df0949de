//! One paid route on Tempo: `GET /paid` costs 0.01 of the currency, and
//! `GET /health` is free. `GET /openapi.json` is the discovery document,
//! which lists what `/paid` costs.
//!
//! Configuration, from the environment:
//!
//! - `TEMPO_RECIPIENT` (required): the address paid;
//! - `MPP_SECRET_KEY` (required): the challenge-binding secret, at least 32
//!   bytes (`MPP_SECRET_KEY_PREVIOUS` too during a rotation);
//! - `TEMPO_RPC_URL`: the node (default: Tempo mainnet's public RPC);
//! - `TEMPO_CHAIN_ID`: the chain id (default: asked of the node);
//! - `TEMPO_CURRENCY`: the TIP-20 token charged (default `PathUSD`);
//! - `TEMPO_FEE_PAYER_KEY`: a private key to sponsor the payers' fees;
//! - `REDIS_URL`: claims in Redis, for several instances (default: in
//!   memory);
//! - `MPP_REALM`: the realm (or another of `REALM_ENV_VARS`; default: the
//!   host of `ADDR`);
//! - `ADDR`: where to listen (default `127.0.0.1:3000`).
//!
//! ```text
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo,redis --example basic
//! curl -i http://127.0.0.1:3000/paid    # 402 with a Payment challenge
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::discovery::Discovery;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::store::RedisStore;
use tower_mpp::tempo::{MAINNET_RPC_URL, TempoCharge};

struct OneCent;

impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01")
            .expect("0.01 is a decimal")
            .description("One paid greeting")
    }
}

async fn paid(charge: Charge<OneCent>) -> Json<Value> {
    Json(json!({
        "message": "Thank you for your payment.",
        "reference": charge.receipt().reference,
    }))
}

async fn health() -> &'static str {
    "ok"
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
    eprintln!(
        "tempo: chain {}, currency {}, recipient {}, fee payer {}",
        tempo.chain_id(),
        tempo.currency(),
        tempo.recipient(),
        tempo
            .fee_payer()
            .map_or_else(|| "none".to_owned(), |a| a.to_string()),
    );
    let mut payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo);
    if let Some(url) = env("REDIS_URL") {
        let store = RedisStore::connect(&url).await.map_err(|e| {
            let cause = e.source().map(|c| format!(" ({c})")).unwrap_or_default();
            format!("REDIS_URL: {e}{cause}")
        })?;
        payments = payments.store(store);
    }
    let payments = payments.build()?;
    let discovery = Discovery::new("tower-mpp basic example", "1.0.0")
        .paid(
            "GET",
            "/paid",
            "A paid greeting",
            payments.offers(&OneCent::price())?,
        )
        .free("GET", "/health", "Liveness")
        .to_json();

    let app = Router::new()
        .route("/paid", get(paid))
        .layer(PaymentLayer::new(payments))
        .route("/health", get(health))
        .route("/openapi.json", get(move || async move { Json(discovery) }));

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
    if env("TEMPO_FEE_PAYER_KEY").is_some() {
        tempo = tempo.fee_payer_from_env("TEMPO_FEE_PAYER_KEY");
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
