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

mod common;

use std::convert::Infallible;
use std::error::Error;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::Price;
use tower_mpp::tempo::TempoCharge;

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("paid for {} {}\n", request.method(), request.uri().path());
    Ok(Response::new(Full::from(body)))
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
    let timeouts = common::Timeouts::DEFAULT;
    let service = ServiceBuilder::new()
        // A request not answered in time is a 408 (a settlement it started
        // goes on, and the client's retry is served).
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(PaymentLayer::new(payments).charge(Price::new("0.01")?))
        .service_fn(handle);

    let listener = common::listen(&addr).await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // A client that sends its request head slowly is cut off.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
}
