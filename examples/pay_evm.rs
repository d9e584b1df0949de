//! A client that pays with an ERC-20 token on an EVM chain only, step by
//! step, then in one call: against a route that offers several ways to
//! pay (the `multi_method` example), it picks the EVM charge.
//!
//! ```sh
//! PAYER_KEY=0x... EVM_RPC_URL=http://127.0.0.1:8546 EVM_CURRENCY=0x... \
//! EVM_TOKEN_NAME='USD Coin' EVM_TOKEN_VERSION=2 \
//!     cargo run --example pay_evm --features client,evm -- http://127.0.0.1:3000/paid
//! ```
//!
//! It prints the `402`'s challenges (all of them), the same offers reordered
//! by `Accept-Payment`, the one it pays, the credential it sends
//! (summarized: never the key), the receipt, the transfer on chain, and the
//! payer's and recipient's balances before and after. `scripts/demo` runs
//! it against the `multi_method` example.
//!
//! - `PAYER_KEY` (required): the paying account's private key.
//! - `EVM_RPC_URL` (required): the chain's node.
//! - `EVM_CURRENCY` (required): the token the payer pays with.
//! - `EVM_TOKEN_NAME`, `EVM_TOKEN_VERSION`: the token's EIP-3009 domain
//!   (e.g. `USD Coin` / `2`), to sign `authorization` credentials; without
//!   them it pays with `permit2` (after the payer's one-time approval of
//!   Permit2), `transaction` or `hash`, as the challenge allows.

use std::error::Error;
use std::process::ExitCode;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolEvent;
use serde_json::Value;
use tower_mpp::client::{EvmProvider, PaymentExt, PaymentProvider, ReceiptExt};
use tower_mpp::evm::challenge_hash;
use tower_mpp::protocol::{Challenge, Credential, format_amount, parse_challenges};

sol! {
    #[sol(rpc)]
    interface IERC20 {
        function balanceOf(address owner) external view returns (uint256);
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
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
    let rpc_url = env("EVM_RPC_URL")?;
    let signer: PrivateKeySigner = env("PAYER_KEY")?
        .parse()
        .map_err(|_| "PAYER_KEY is not a private key")?;
    let token: Address = env("EVM_CURRENCY")?
        .parse()
        .map_err(|_| "EVM_CURRENCY is not an address")?;
    let mut provider = EvmProvider::new(signer, &rpc_url)?;
    if let (Ok(name), Ok(version)) = (env("EVM_TOKEN_NAME"), env("EVM_TOKEN_VERSION")) {
        provider = provider.authorization_domain(token, name, version);
    }
    let chain = Chain::connect(&rpc_url)?;
    let http = reqwest::Client::new();

    heading(&format!("1. GET {url} without paying"));
    let unpaid = http.get(&url).send().await?;
    println!("status: {}", unpaid.status());
    let challenges = challenges_of(&unpaid)?;
    for challenge in &challenges {
        print_challenge(challenge);
    }

    let accept = "evm/charge, tempo/*;q=0.5";
    heading(&format!("2. the same with Accept-Payment: {accept}"));
    let preferring = http
        .get(&url)
        .header("accept-payment", accept)
        .send()
        .await?;
    for (i, challenge) in challenges_of(&preferring)?.iter().enumerate() {
        println!(
            "  {}. {}/{}  {}",
            i + 1,
            challenge.method,
            challenge.intent,
            challenge.id
        );
    }

    heading("3. the challenge this EVM-only client pays");
    let challenge = challenges
        .iter()
        .find(|c| provider.supports(&c.method, &c.intent))
        .ok_or("no EVM charge among the challenges")?;
    println!(
        "{}/{}  {}",
        challenge.method, challenge.intent, challenge.id
    );
    let request = challenge.request.object();
    let currency: Address = field(request, "currency")?.parse()?;
    let recipient: Address = field(request, "recipient")?.parse()?;
    if currency != token {
        return Err(format!("the challenge asks for {currency}, not EVM_CURRENCY {token}").into());
    }
    let payer = provider.address();
    let before = (
        chain.balance(currency, payer).await?,
        chain.balance(currency, recipient).await?,
        chain.provider.get_balance(payer).await?,
    );

    heading("4. the credential");
    let credential = provider.pay(challenge).await?;
    print_credential(&credential);
    println!(
        "  challengeHash {} (keccak256 of the challenge's id and realm)",
        challenge_hash(&challenge.id, &challenge.realm)
    );

    heading(&format!("5. GET {url} with Authorization: Payment"));
    let paid = http
        .get(&url)
        .header("authorization", credential.to_header()?)
        .send()
        .await?;
    println!("status: {}", paid.status());
    if !paid.status().is_success() {
        return Err(format!("the payment was refused: {}", paid.text().await?).into());
    }
    let receipt = paid
        .payment_receipt()
        .ok_or("the response has no Payment-Receipt")??;
    println!("Payment-Receipt:");
    println!("  method     {}", receipt.method);
    println!("  reference  {}", receipt.reference);
    println!("  timestamp  {}", receipt.timestamp.as_str());
    for (key, value) in &receipt.extra {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        println!("  {key:<10} {text}");
    }
    println!("body: {}", paid.text().await?);

    heading("6. on chain");
    chain.print_transaction(&receipt.reference).await?;
    let after = (
        chain.balance(currency, payer).await?,
        chain.balance(currency, recipient).await?,
        chain.provider.get_balance(payer).await?,
    );
    println!("balances of {currency} (base units):");
    println!("  payer      {payer}  {} -> {}", before.0, after.0);
    println!("  recipient  {recipient}  {} -> {}", before.1, after.1);
    println!(
        "  the payer's gas coin: {} -> {} wei (the server's gas key paid the gas)",
        before.2, after.2
    );

    heading(&format!(
        "7. the same in one call: send_with_payment({url})"
    ));
    let response = http.get(&url).send_with_payment(&provider).await?;
    let receipt = response.payment_receipt().transpose()?;
    let (method, reference) = receipt.map_or_else(
        || ("none".to_owned(), "none".to_owned()),
        |r| (r.method, r.reference),
    );
    println!(
        "status: {}, paid with {method}, receipt reference: {reference}",
        response.status()
    );
    if !response.status().is_success() {
        return Err(format!("the paid request answered {}", response.status()).into());
    }
    Ok(())
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn challenges_of(response: &reqwest::Response) -> Result<Vec<Challenge>, Box<dyn Error>> {
    let values: Vec<&str> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Ok(parse_challenges(values)?)
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
    let request = challenge.request.object();
    if let Some(amount) = request.get("amount").and_then(Value::as_str) {
        // The tokens of both chains here have 6 decimals.
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
        let shown = match value.as_str() {
            // A signature or a nonce: its ends are enough to tell it apart.
            Some(hex) if hex.starts_with("0x") && hex.len() > 42 => format!(
                "{}...{} ({} hex digits)",
                &hex[..22],
                &hex[hex.len() - 8..],
                hex.len() - 2
            ),
            Some(text) => text.to_owned(),
            None => value.to_string(),
        };
        println!("  payload.{key:<11} {shown}");
    }
}

/// Reads the chain with alloy.
struct Chain {
    provider: RootProvider,
}

impl Chain {
    fn connect(url: &str) -> Result<Self, Box<dyn Error>> {
        let provider = ProviderBuilder::new()
            .connect_http(url.parse()?)
            .root()
            .clone();
        Ok(Self { provider })
    }

    async fn balance(&self, token: Address, owner: Address) -> Result<U256, Box<dyn Error>> {
        Ok(IERC20::new(token, &self.provider)
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
        let text = |key: &str| receipt[key].as_str().unwrap_or("?").to_owned();
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
        println!("  from        {} (who paid the gas)", text("from"));
        println!("  to          {} (the token)", text("to"));
        println!("  gas used    {}", number("gasUsed"));
        for log in receipt["logs"].as_array().into_iter().flatten() {
            let topics: Vec<&str> = log["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if topics.len() == 3
                && topics[0].parse::<B256>().ok() == Some(IERC20::Transfer::SIGNATURE_HASH)
            {
                let value = log["data"]
                    .as_str()
                    .and_then(|d| U256::from_str_radix(d.trim_start_matches("0x"), 16).ok())
                    .unwrap_or_default();
                println!(
                    "  Transfer    0x{} -> 0x{}: {value}",
                    &topics[1][26..],
                    &topics[2][26..]
                );
            }
        }
        Ok(())
    }
}
