//! Pay as you go: an answer streamed word by word, each word paid from a
//! session's payment channel. `MPP_SECRET_KEY` and `TEMPO_PAYEE_KEY` (plus
//! `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID` and `TEMPO_ESCROW` off mainnet).
use std::time::Duration;

use axum::{Router, routing::get};
use futures_util::stream;
use tower_mpp::axum::Payment;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price};
use tower_mpp::stream::MeteredSse;
use tower_mpp::tempo::session::{SettleThreshold, TempoSession};

async fn answer(payment: Payment) -> Result<MeteredSse, PaymentRejection> {
    let metered = payment.meter(Price::decimal("0.0001")).await?;
    let words = stream::iter("Pay as you go, one word at a time.".split(' '));
    Ok(metered.sse(words))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let session = TempoSession::builder()
        .from_env()
        .volatile_channel_store(true) // one instance: see "Channel stores"
        .connect()
        .await?;
    // Capture what was consumed every minute.
    tokio::spawn(session.settler(Duration::from_secs(60), SettleThreshold::ANY, |_| {}));
    let payments = Payments::builder()
        .realm_from_env("localhost")
        .secret_from_env()
        .method(session)
        .build()?;
    let app = Router::new()
        .route("/answer", get(answer))
        .layer(PaymentLayer::new(payments));
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
