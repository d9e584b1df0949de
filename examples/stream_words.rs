//! A metered answer: `GET /answer` streams a generated text word by word
//! as Server-Sent Events, each word paid from the client's Tempo session
//! (0.0001 a word) before it is sent; `GET /joke` costs 0.01, paid by a
//! Tempo charge or a session voucher, the client's choice. The payee
//! settles accepted vouchers every 10 seconds.
//!
//! Configuration, from the environment:
//!
//! - `TEMPO_PAYEE_KEY` (required): the payee's private key (it receives
//!   the channels' payments and signs their settlements);
//! - `TEMPO_ESCROW` (required off mainnet and testnet): the
//!   `TempoStreamChannel` escrow contract;
//! - `MPP_SECRET_KEY` (required), `MPP_REALM`, `ADDR`, `TEMPO_RPC_URL`,
//!   `TEMPO_CHAIN_ID`: as for the `basic` example.
//!
//! All are in the table of `tower_mpp::tempo`'s documentation.
//!
//! ```text
//! TEMPO_PAYEE_KEY=0x... TEMPO_ESCROW=0x... \
//! TEMPO_RPC_URL=http://127.0.0.1:8545 TEMPO_CHAIN_ID=1337 \
//! MPP_SECRET_KEY=$(openssl rand -hex 32) \
//!   cargo run --features tempo --example stream_words
//! ```
//!
//! `scripts/demo` runs it on a local chain with the escrow deployed, and
//! pays it with the `stream_pay` example.
//!
//! Copied into a new project as `src/main.rs`, it needs:
//!
//! ```text
//! cargo add tower-mpp --features tempo
//! cargo add axum futures-util hyper hyper-util tokio tower-http \
//!   --features hyper/server,hyper/http1,hyper-util/tokio,hyper-util/server,hyper-util/service,tokio/full,tower-http/timeout
//! ```

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::stream;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price, StaticPrice};
use tower_mpp::stream::MeteredSse;
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::{SettleThreshold, TempoSession};

/// What one word costs: 0.0001 of a 6-decimal token.
const PER_WORD: u128 = 100;

const ANSWER: &str = "A payment channel is opened once, on chain, with a deposit. \
    Each word of this answer is then paid with a signed voucher that raises the \
    amount the server may claim, without a transaction and without waiting for a \
    block. When the answer is done the channel is closed: the escrow pays the \
    server what the vouchers say and returns the rest to the payer.";

struct OneCent;

impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000).description("A joke")
    }
}

async fn joke(_paid: Charge<OneCent>) -> &'static str {
    "Why did the agent open a channel? It had more than one question."
}

async fn answer(payment: Payment) -> Result<MeteredSse, PaymentRejection> {
    let metered = payment.meter(Price::base_units(PER_WORD)).await?;
    let words = stream::iter(ANSWER.split_whitespace());
    Ok(metered.wait(Duration::from_secs(30)).sse(words))
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
    // The payee key, escrow, node and chain from the environment.
    let session = TempoSession::builder()
        .from_env()
        .suggested_deposit(2_000 * PER_WORD)
        .unit_type("word")
        // One instance, channels in memory: a restart loses the vouchers
        // accepted since the last settlement (every 10 s here).
        .volatile_channel_store(true)
        .build()?;
    // Charges pay the payee too.
    let charge = TempoCharge::builder()
        .from_env()
        .recipient(session.recipient().to_string());
    eprintln!(
        "session: chain {}, escrow {}, payee {}",
        session.chain_id(),
        session.escrow(),
        session.recipient()
    );
    let payments = Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(charge.connect().await?)
        .method(session.clone())
        .build()?;
    tokio::spawn(
        session.settler(Duration::from_secs(10), SettleThreshold::ANY, |report| {
            for (id, amount, tx) in &report.settled {
                eprintln!("settled {amount} on channel {id} in {tx}");
            }
            for (id, why) in &report.failed {
                eprintln!("settlement of {id} failed (retried): {why}");
            }
        }),
    );
    let app = Router::new()
        .route("/joke", get(joke))
        .route("/answer", get(answer))
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
