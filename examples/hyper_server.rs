//! Payments without axum: a `tower::service_fn` behind
//! `PaymentLayer::charge`, served by hyper. Every request costs 0.01; the
//! layer verifies the payment before the service is called and attaches
//! the `Payment-Receipt` to its response.
//!
//! Configuration, from the environment: `TEMPO_RECIPIENT` and
//! `MPP_SECRET_KEY` (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`,
//! `TEMPO_CURRENCY`, `MPP_REALM` and `ADDR` (default `127.0.0.1:3000`), as
//! in the `basic` example.
//!
//! ```text
//! TEMPO_RECIPIENT=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example hyper_server
//! curl -i http://127.0.0.1:3000/anything
//! ```

use std::convert::Infallible;
use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price};
use tower_mpp::tempo::{MAINNET_RPC_URL, TempoCharge};

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("paid for {} {}\n", request.method(), request.uri().path());
    Ok(Response::new(Full::from(body)))
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

    let service = ServiceBuilder::new()
        .layer(PaymentLayer::new(payments).charge(Price::new("0.01")?))
        .service_fn(handle);

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
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
