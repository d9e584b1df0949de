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
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo
//! cargo add axum hyper hyper-util tokio tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,tokio/full,tower-http/timeout
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
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
    // Refuses to start without the key: this example is about sponsorship.
    let tempo = TempoCharge::builder()
        .from_env()
        .fee_payer_from_env("TEMPO_FEE_PAYER_KEY");
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo.connect().await?)
        .build()?;
    let app = Router::new()
        .route("/sponsored", get(sponsored))
        .route("/unsponsored", get(unsponsored))
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
