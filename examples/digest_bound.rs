//! A payment bound to one request body: `POST /documents` costs 0.05 and
//! its challenges carry the body's `Content-Digest`
//! (`digest="sha-256=:...:"`), so a credential only pays for a request with
//! exactly that body.
//!
//! `BodyDigestLayer` reads the body (up to 64 KiB here: 413 past it),
//! records its digest for the `Charge` extractor and hands the same bytes
//! on to the handler.
//!
//! Configuration, from the environment: `TEMPO_RECIPIENT` and
//! `MPP_SECRET_KEY` (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`,
//! `TEMPO_CURRENCY`, `MPP_REALM` and `ADDR` (default `127.0.0.1:3000`), as
//! in the `basic` example.
//!
//! ```text
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example digest_bound
//! curl -i http://127.0.0.1:3000/documents -d 'the document to notarize'
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use axum::body::Bytes;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::{BodyDigestLayer, PaymentLayer};
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::{MAINNET_RPC_URL, TempoCharge};

/// The largest body this route reads.
const BODY_LIMIT: usize = 64 * 1024;

struct Notarization;
impl StaticPrice for Notarization {
    fn price() -> Price {
        Price::new("0.05")
            .expect("0.05 is a decimal")
            .description("Notarize one document")
    }
}

async fn notarize(charge: Charge<Notarization>, body: Bytes) -> Json<Value> {
    Json(json!({
        "bytes": body.len(),
        "reference": charge.receipt().reference,
    }))
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

    // The last layer added is the outermost: the body is read and digested
    // before the request reaches payments.
    let app = Router::new()
        .route("/documents", post(notarize))
        .layer(PaymentLayer::new(payments))
        .layer(BodyDigestLayer::new(BODY_LIMIT));

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
