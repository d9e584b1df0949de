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
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo,redis,tracing
//! cargo add tracing-subscriber --no-default-features --features fmt,std
//! cargo add axum hyper hyper-util rustls serde_json tokio tower-http \
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
use tower_mpp::discovery::Discovery;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::store::RedisStore;
use tower_mpp::tempo::TempoCharge;

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
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run() -> Result<(), Box<dyn Error>> {
    // The payments' spans and events (feature `tracing`: `mpp.request`
    // with its method, intent, amount and outcome) go to any subscriber;
    // this one prints them on stderr, from `info` up. An OpenTelemetry
    // exporter is another subscriber layer.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    // The application picks rustls' process-wide crypto provider (a
    // `rediss://` REDIS_URL needs one); the library installs none.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    // The realm defaults to the host served.
    let host = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(host, _)| host);
    let mut payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(TempoCharge::builder().from_env().connect().await?);
    if let Some(url) = std::env::var("REDIS_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
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
