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
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo
//! cargo add bytes http http-body-util hyper hyper-util tokio tower tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,tokio/full,tower/util,tower-http/timeout
//! ```

use std::convert::Infallible;
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price};
use tower_mpp::tempo::TempoCharge;

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("paid for {} {}\n", request.method(), request.uri().path());
    Ok(Response::new(Full::from(body)))
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
    let service = ServiceBuilder::new()
        // A request not answered in time is a 408 (a settlement it started
        // goes on, and the client's retry is served).
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(PaymentLayer::new(payments).charge(Price::new("0.01")?))
        .service_fn(handle);

    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // A client that sends its request head slowly is cut off.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
}
