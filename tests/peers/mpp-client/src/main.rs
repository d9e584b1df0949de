//! Pays a URL with the `mpp` crate's Tempo client and prints what came back.
//!
//! Usage: mpp-client --url URL --key 0xPRIVATE_KEY --rpc RPC_URL [--chain-id ID]
//!
//! Prints one JSON object on stdout:
//! `{"status": 200, "body": "...", "receipt": "<Payment-Receipt header or null>",
//!   "problem": <response body as JSON when it is JSON, else null>}`
//! or, when the client itself gave up, `{"error": "..."}` with exit code 1.
//! The client picks the mode itself: pull (a signed 0x76 transaction, or a
//! 0x78 envelope when the challenge asks for a fee payer) for a positive
//! amount, a proof for zero. It has no push mode.
//!
//! `mpp-client session ...` runs the session client instead (see session.rs),
//! `mpp-client serve-session ...` the session server (see serve.rs).

mod serve;
mod session;

use std::process::ExitCode;
use std::time::Duration;

use mpp::PrivateKeySigner;
use mpp::client::{Fetch, TempoProvider};

fn usage() -> ! {
    eprintln!("usage: mpp-client --url URL --key 0xKEY --rpc RPC_URL [--chain-id ID]");
    std::process::exit(2);
}

pub(crate) fn fail(message: String) -> ExitCode {
    println!("{}", serde_json::json!({ "error": message }));
    ExitCode::from(1)
}

#[tokio::main]
async fn main() -> ExitCode {
    let (mut url, mut key, mut rpc, mut chain_id) = (None, None, None, None);
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("session") {
        args.next();
        return session::run(args).await;
    }
    if args.peek().map(String::as_str) == Some("serve-session") {
        args.next();
        return serve::run(args).await;
    }
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--url" => url = Some(value),
            "--key" => key = Some(value),
            "--rpc" => rpc = Some(value),
            "--chain-id" => chain_id = Some(value.parse::<u64>().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let (Some(url), Some(key), Some(rpc)) = (url, key, rpc) else {
        usage()
    };

    let signer: PrivateKeySigner = match key.parse() {
        Ok(signer) => signer,
        Err(e) => return fail(format!("bad private key: {e}")),
    };
    let mut provider = match TempoProvider::new(signer, &rpc) {
        Ok(provider) => provider,
        Err(e) => return fail(format!("TempoProvider::new: {e}")),
    };
    if let Some(chain_id) = chain_id {
        provider = provider.with_expected_chain_id(chain_id);
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client");
    let response = match client
        .get(&url)
        .header("Accept-Payment", "tempo/charge")
        .send_with_payment(&provider)
        .await
    {
        Ok(response) => response,
        Err(e) => return fail(format!("payment flow failed: {e} ({e:?})")),
    };

    let status = response.status().as_u16();
    let receipt = response
        .headers()
        .get("payment-receipt")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let www_authenticate: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let body = match response.text().await {
        Ok(body) => body,
        Err(e) => return fail(format!("reading the body: {e}")),
    };
    let problem = serde_json::from_str::<serde_json::Value>(&body).ok();
    println!(
        "{}",
        serde_json::json!({
            "status": status,
            "body": body,
            "receipt": receipt,
            "problem": problem,
            "www_authenticate": www_authenticate,
        })
    );
    ExitCode::SUCCESS
}
