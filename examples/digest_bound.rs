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
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo
//! cargo add axum hyper hyper-util serde_json tokio tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,tokio/full,tower-http/timeout
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::axum::Charge;
use tower_mpp::layer::{BodyDigestLayer, PaymentLayer};
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;

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

    // The last layer added is the outermost: the body is read and digested
    // before the request reaches payments.
    let app = Router::new()
        .route("/documents", post(notarize))
        .layer(PaymentLayer::new(payments))
        // A body must arrive within 10 s (408 past it).
        .layer(BodyDigestLayer::new(BODY_LIMIT).read_timeout(Duration::from_secs(10)));
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
