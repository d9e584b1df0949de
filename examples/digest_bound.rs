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

mod common;

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::{BodyDigestLayer, PaymentLayer};
use tower_mpp::method::{Price, StaticPrice};
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
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = common::addr();
    let payments = common::payments(&addr, TempoCharge::builder().from_env())
        .await?
        .build()?;

    // The last layer added is the outermost: the body is read and digested
    // before the request reaches payments.
    let app = Router::new()
        .route("/documents", post(notarize))
        .layer(PaymentLayer::new(payments))
        // A body must arrive within 10 s (408 past it).
        .layer(BodyDigestLayer::new(BODY_LIMIT).read_timeout(Duration::from_secs(10)));
    common::serve(common::listen(&addr).await?, app).await?;
    Ok(())
}
