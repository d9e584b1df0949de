//! Pays a metered stream with a Tempo session: opens a payment channel on
//! the first `402`, prints the words as they arrive and each voucher the
//! server asks for, then closes the channel and shows where the deposit
//! went.
//!
//! ```sh
//! PAYER_KEY=0x... TEMPO_RPC_URL=http://127.0.0.1:8545 \
//!     cargo run --example stream_pay --features client,tempo -- http://127.0.0.1:3000/answer
//! ```
//!
//! - `PAYER_KEY` (required): the paying account's private key.
//! - `TEMPO_RPC_URL` (required): the node, to read balances and the close.
//! - `DEPOSIT`: the channel's deposit in base units (default 5000: 0.005,
//!   enough for about the first 50 words, so the stream also shows a
//!   top-up).
//!
//! `scripts/demo` runs it against the `stream_words` example.

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use futures_util::StreamExt as _;
use serde_json::Value;
use tempo_alloy::TempoNetwork;
use tempo_alloy::contracts::precompiles::ITIP20;
use tower_mpp::client::{
    PaymentExt, ReceiptExt, SessionEvent, SessionEvents, SpendingPolicy, TempoSessionProvider,
    WithPolicy,
};
use tower_mpp::protocol::parse_challenges;

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

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

fn heading(text: &str) {
    println!("\n== {text}");
}

async fn run() -> Result<(), Box<dyn Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000/answer".to_owned());
    let rpc_url = env("TEMPO_RPC_URL")?;
    let signer: PrivateKeySigner = env("PAYER_KEY")?
        .parse()
        .map_err(|_| "PAYER_KEY is not a private key")?;
    let deposit: u128 = env("DEPOSIT").map_or(Ok(5_000), |d| d.parse())?;
    // Vouch ten words ahead, so the server asks every tenth word.
    let provider = TempoSessionProvider::new(signer)
        .deposit(deposit)
        .max_deposit(100 * deposit)
        .voucher_ahead(900);
    let payer = provider.address();
    let node = ProviderBuilder::new_with_network::<TempoNetwork>()
        .connect_http(rpc_url.parse()?)
        .root()
        .clone();
    let http = reqwest::Client::new();

    heading(&format!("1. GET {url} without paying"));
    let unpaid = http.get(&url).send().await?;
    println!("status: {}", unpaid.status());
    let values: Vec<&str> = unpaid
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let challenges = parse_challenges(values)?;
    let challenge = challenges
        .iter()
        .find(|c| c.intent == "session")
        .ok_or("no session challenge")?;
    let request = challenge.request.object();
    print_challenge(challenge);
    let token: Address = request["currency"].as_str().ok_or("no currency")?.parse()?;
    let recipient: Address = request["recipient"]
        .as_str()
        .ok_or("no recipient")?
        .parse()?;
    let balance = |owner: Address| {
        let token = ITIP20::new(token, &node);
        async move { token.balanceOf(owner).call().await }
    };
    let before = (balance(payer).await?, balance(recipient).await?);

    heading(&format!(
        "2. GET {url}, paid: the channel opens, the words stream"
    ));
    // The demo's realm is the server's address; a real client keeps the
    // default rule (the realm must name the host).
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(&challenge.realm));
    let response = http.get(&url).send_with_payment(&paying).await?;
    println!("status: {}", response.status());
    if let Some(receipt) = response.payment_receipt() {
        let receipt = receipt?;
        println!(
            "Payment-Receipt: channel {} opened in {}",
            receipt.extra["channelId"].as_str().unwrap_or_default(),
            receipt.extra["txHash"].as_str().unwrap_or("?")
        );
    }
    // Through the policy: each voucher the stream asks for is counted.
    print_events(paying.events(response)).await?;

    heading("3. close the channel");
    let record = provider.channel(challenge)?.ok_or("no channel")?;
    let receipt = provider.close(&url).await?;
    let tx = receipt.extra["txHash"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("closed in {tx}");
    let close: Value = node
        .raw_request("eth_getTransactionReceipt".into(), (tx.parse::<B256>()?,))
        .await?;
    println!("  status {}", close["status"]);

    heading("4. balances");
    let after = (balance(payer).await?, balance(recipient).await?);
    println!("channel deposit: {}", record.deposit);
    println!("vouched in all:  {}", record.cumulative);
    println!("spent (closed):  {}", record.spent);
    println!(
        "payer  {payer}: {} -> {} (the vouchers and the open's fees)",
        before.0, after.0
    );
    println!(
        "payee  {recipient}: {} -> {} (settled, less its close fee)",
        before.1, after.1
    );
    println!(
        "returned to the payer: {}",
        U256::from(record.deposit) - U256::from(record.spent)
    );
    Ok(())
}

/// Prints the words as they come, and what the stream asked to be paid.
async fn print_events(mut events: SessionEvents) -> Result<(), Box<dyn Error>> {
    let mut line = 0;
    while let Some(event) = events.next().await {
        match event? {
            SessionEvent::Message(word) => {
                if line + word.len() > 72 {
                    println!();
                    line = 0;
                }
                print!("{word} ");
                line += word.len() + 1;
                std::io::stdout().flush()?;
            }
            SessionEvent::Paid {
                cumulative, top_up, ..
            } => {
                println!();
                if let Some(added) = top_up {
                    println!("  [payment-need-voucher: topped up the deposit by {added}]");
                }
                println!("  [payment-need-voucher: sent a voucher for {cumulative} in all]");
                line = 0;
            }
            SessionEvent::Receipt(receipt) => {
                println!();
                println!(
                    "  [payment-receipt: {} words, spent {} of {} vouched]",
                    receipt.extra["units"],
                    receipt.extra["spent"],
                    receipt.extra["acceptedCumulative"]
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the session challenge asks.
fn print_challenge(challenge: &tower_mpp::protocol::Challenge) {
    let request = challenge.request.object();
    println!(
        "challenge: method={} intent={} realm={}",
        challenge.method, challenge.intent, challenge.realm
    );
    println!(
        "  price per {}: {} base units",
        request["unitType"].as_str().unwrap_or("unit"),
        request["amount"]
    );
    println!(
        "  escrow {}, suggested deposit {}",
        request["methodDetails"]["escrowContract"], request["suggestedDeposit"]
    );
}
