//! A client paying a Tempo-charged URL, step by step, then in one call.
//!
//! ```sh
//! PAYER_KEY=0x... TEMPO_RPC_URL=http://127.0.0.1:8545 \
//!     cargo run --example pay --features client,tempo -- http://127.0.0.1:3000/paid
//! ```
//!
//! It prints the `402` and its decoded challenges, the credential it sends
//! (summarized: never the key), the receipt, the transaction on chain, and
//! the payer's and recipient's balances before and after. `scripts/demo`
//! runs it against the `basic` example on a local chain.
//!
//! - `PAYER_KEY` (required): the paying account's private key.
//! - `TEMPO_RPC_URL` (required): the node the payment goes through.
//! - `CLIENT_ID`: names this client in attribution memos (default
//!   `tower-mpp-demo`).

use std::error::Error;
use std::process::ExitCode;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use serde_json::Value;
use tempo_alloy::TempoNetwork;
use tempo_alloy::contracts::precompiles::ITIP20;
use tower_mpp::client::{PaymentExt, PaymentProvider, ReceiptExt, TempoProvider};
use tower_mpp::protocol::{Challenge, Credential, format_amount, parse_challenges};

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

async fn run() -> Result<(), Box<dyn Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000/paid".to_owned());
    let rpc_url = env("TEMPO_RPC_URL")?;
    let signer: PrivateKeySigner = env("PAYER_KEY")?
        .parse()
        .map_err(|_| "PAYER_KEY is not a private key")?;
    let client_id = env("CLIENT_ID").unwrap_or_else(|_| "tower-mpp-demo".to_owned());
    let provider = TempoProvider::new(signer, &rpc_url)?.client_id(client_id);
    let chain = Chain::connect(&rpc_url)?;
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
    for challenge in &challenges {
        print_challenge(challenge);
    }
    let challenge = challenges
        .iter()
        .find(|c| provider.supports(&c.method, &c.intent))
        .ok_or("no Tempo charge among the challenges")?;
    let request = challenge.request.object();
    let currency: Address = field(request, "currency")?.parse()?;
    let recipient: Address = field(request, "recipient")?.parse()?;
    let payer = provider.address();
    let before = (
        chain.balance(currency, payer).await?,
        chain.balance(currency, recipient).await?,
    );

    heading("2. the credential");
    let credential = provider.pay(challenge).await?;
    print_credential(&credential);

    heading(&format!("3. GET {url} with Authorization: Payment"));
    let paid = http
        .get(&url)
        .header("authorization", credential.to_header()?)
        .send()
        .await?;
    println!("status: {}", paid.status());
    let receipt = paid
        .payment_receipt()
        .ok_or("the response has no Payment-Receipt")??;
    println!("Payment-Receipt:");
    println!("  method     {}", receipt.method);
    println!("  reference  {}", receipt.reference);
    println!("  timestamp  {}", receipt.timestamp.as_str());
    for (key, value) in &receipt.extra {
        println!("  {key:<10} {value}");
    }
    println!("body: {}", paid.text().await?);

    heading("4. on chain");
    chain.print_transaction(&receipt.reference).await?;
    let after = (
        chain.balance(currency, payer).await?,
        chain.balance(currency, recipient).await?,
    );
    println!("balances of {currency} (base units):");
    println!("  payer      {payer}  {} -> {}", before.0, after.0);
    println!("  recipient  {recipient}  {} -> {}", before.1, after.1);
    let spent = before.0.saturating_sub(after.0);
    let received = after.1.saturating_sub(before.1);
    println!(
        "  the payer spent {spent}: {received} to the recipient, {} in fees",
        spent.saturating_sub(received)
    );

    heading(&format!(
        "5. the same in one call: send_with_payment({url})"
    ));
    let response = http.get(&url).send_with_payment(&provider).await?;
    let reference = response
        .payment_receipt()
        .transpose()?
        .map_or_else(|| "none".to_owned(), |r| r.reference);
    println!(
        "status: {}, receipt reference: {reference}",
        response.status()
    );
    Ok(())
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn field<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the request has no {name}"))
}

fn print_challenge(challenge: &Challenge) {
    println!("WWW-Authenticate: Payment");
    println!("  id          {}", challenge.id);
    println!("  realm       {}", challenge.realm);
    println!("  method      {}/{}", challenge.method, challenge.intent);
    if let Some(expires) = &challenge.expires {
        println!("  expires     {}", expires.as_str());
    }
    if let Some(description) = &challenge.description {
        println!("  description {description}");
    }
    let request = challenge.request.object();
    if let Some(amount) = request.get("amount").and_then(Value::as_str) {
        // TIP-20 tokens have 6 decimals.
        let human = amount
            .parse::<u128>()
            .map_or_else(|_| "?".to_owned(), |units| format_amount(units, 6));
        println!("  amount      {amount} base units ({human})");
    }
    let pretty = serde_json::to_string_pretty(request).unwrap_or_default();
    println!("  request     {}", pretty.replace('\n', "\n              "));
}

fn print_credential(credential: &Credential) {
    println!(
        "Authorization: Payment <{} bytes>",
        credential.encode().map_or(0, |t| t.len())
    );
    println!("  challenge   {}", credential.challenge.id);
    if let Some(source) = &credential.source {
        println!("  source      {source}");
    }
    for (key, value) in &credential.payload {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        let shown = if text.len() > 42 {
            format!(
                "{}...{} ({} hex digits)",
                &text[..22],
                &text[text.len() - 8..],
                text.len() - 2
            )
        } else {
            text
        };
        println!("  payload.{key:<7} {shown}");
    }
}

/// Reads the chain with alloy.
struct Chain {
    provider: alloy::providers::RootProvider<TempoNetwork>,
}

impl Chain {
    fn connect(url: &str) -> Result<Self, Box<dyn Error>> {
        let provider = ProviderBuilder::new_with_network::<TempoNetwork>()
            .connect_http(url.parse()?)
            .root()
            .clone();
        Ok(Self { provider })
    }

    async fn balance(&self, token: Address, owner: Address) -> Result<U256, Box<dyn Error>> {
        Ok(ITIP20::new(token, &self.provider)
            .balanceOf(owner)
            .call()
            .await?)
    }

    async fn print_transaction(&self, hash: &str) -> Result<(), Box<dyn Error>> {
        let hash: B256 = hash.parse()?;
        let receipt: Value = self
            .provider
            .raw_request("eth_getTransactionReceipt".into(), (hash,))
            .await?;
        let number = |key: &str| {
            receipt[key]
                .as_str()
                .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                .unwrap_or_default()
        };
        println!("transaction {hash}");
        println!(
            "  status      {}",
            if number("status") == 1 {
                "success"
            } else {
                "reverted"
            }
        );
        println!("  block       {}", number("blockNumber"));
        println!("  gas used    {}", number("gasUsed"));
        let transfer_with_memo = ITIP20::TransferWithMemo::SIGNATURE_HASH;
        for log in receipt["logs"].as_array().into_iter().flatten() {
            let topics: Vec<&str> = log["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if topics.len() == 4 && topics[0].parse::<B256>().ok() == Some(transfer_with_memo) {
                println!("  transfer    to 0x{} memo {}", &topics[2][26..], topics[3]);
            }
        }
        Ok(())
    }
}
