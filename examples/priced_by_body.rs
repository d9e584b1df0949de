//! A price computed at run time from the request body: `POST /translate`
//! takes `{"text": "...", "to": "fr"}` and costs 0.001 per word (1,000 base
//! units of a 6-decimal token such as `PathUSD`), with the `Payment`
//! extractor and `payment.charge(price)`.
//!
//! The client pays the price its body was quoted, then sends the same body
//! again with the credential: the price is computed again and must match
//! the one in the challenge. (Another text of the same length costs the
//! same and is accepted too; see the `digest_bound` example to bind a
//! payment to one exact body.)
//!
//! Configuration, from the environment: `TEMPO_RECIPIENT` and
//! `MPP_SECRET_KEY` (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`,
//! `TEMPO_CURRENCY`, `MPP_REALM` and `ADDR` (default `127.0.0.1:3000`), as
//! in the `basic` example.
//!
//! ```text
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example priced_by_body
//! curl -i http://127.0.0.1:3000/translate -H 'content-type: application/json' \
//!   -d '{"text": "pay per word", "to": "fr"}'    # 402 for 0.003
//! ```
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo
//! cargo add axum hyper hyper-util serde serde_json tokio tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,serde/derive,tokio/full,tower-http/timeout
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::axum::Payment;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price};
use tower_mpp::tempo::TempoCharge;

/// The price of one word, in base units.
const PER_WORD: u128 = 1_000;

#[derive(Deserialize)]
struct Translation {
    text: String,
    to: String,
}

async fn translate(
    payment: Payment,
    Json(job): Json<Translation>,
) -> Result<Json<Value>, PaymentRejection> {
    // At least one word: a zero price would be a different kind of charge.
    let words = job.text.split_whitespace().count().max(1);
    let price = Price::base_units(PER_WORD * words as u128)
        .description(format!("Translation of {words} words into {}", job.to));
    let receipt = payment.charge(price).await?;
    Ok(Json(json!({
        "to": job.to,
        "words": words,
        // A stand-in for the work paid for.
        "translation": job.text.to_uppercase(),
        "reference": receipt.reference,
    })))
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
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(TempoCharge::builder().from_env().connect().await?)
        .build()?;
    let app = Router::new()
        .route("/translate", post(translate))
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
