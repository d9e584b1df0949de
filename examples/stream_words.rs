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
//! `scripts/demo` runs it on a local chain with the escrow deployed, and
//! pays it with the `stream_pay` example.

mod common;

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use futures_util::stream;
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Price, StaticPrice};
use tower_mpp::stream::MeteredSse;
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::TempoSession;

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

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = common::addr();
    let payee_key = env("TEMPO_PAYEE_KEY")?;
    let payee: PrivateKeySigner = payee_key
        .parse()
        .map_err(|_| "TEMPO_PAYEE_KEY is not a key")?;
    // Charges pay the payee too.
    let charge = TempoCharge::builder()
        .from_env()
        .recipient(payee.address().to_string());
    let mut session = TempoSession::builder()
        .payee_key(payee_key)
        .suggested_deposit(2_000 * PER_WORD)
        .unit_type("word")
        // One instance, channels in memory: a restart loses the vouchers
        // accepted since the last settlement (every 10 s here).
        .volatile_channel_store(true);
    if let Ok(url) = env("TEMPO_RPC_URL") {
        session = session.rpc_url(url);
    }
    if let Ok(id) = env("TEMPO_CHAIN_ID") {
        session = session.chain_id(id.parse().map_err(|_| "TEMPO_CHAIN_ID is not a number")?);
    }
    if let Ok(escrow) = env("TEMPO_ESCROW") {
        session = session.escrow(escrow);
    }
    let session = session.build()?;
    eprintln!(
        "session: chain {}, escrow {}, payee {}",
        session.chain_id(),
        session.escrow(),
        session.recipient()
    );
    let payments = common::payments(&addr, charge)
        .await?
        .method(session.clone())
        .build()?;
    tokio::spawn(session.settler(Duration::from_secs(10), 1, |report| {
        for (id, amount, tx) in &report.settled {
            eprintln!("settled {amount} on channel {id} in {tx}");
        }
        for (id, why) in &report.failed {
            eprintln!("settlement of {id} failed (retried): {why}");
        }
    }));
    let app = Router::new()
        .route("/joke", get(joke))
        .route("/answer", get(answer))
        .layer(PaymentLayer::new(payments));
    common::serve(common::listen(&addr).await?, app).await?;
    Ok(())
}
