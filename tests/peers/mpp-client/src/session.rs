//! `mpp-client session`: pays a URL with the `mpp` crate's session client
//! (`TempoSessionProvider`, the custom escrow allowed): the first request
//! opens a channel, the next ones send cumulative vouchers, then the client
//! closes the channel.
//!
//! Usage: mpp-client session --url URL --key 0xKEY --rpc RPC_URL
//!        --escrow 0xESCROW --deposit BASE_UNITS [--requests N]
//!
//! Prints one JSON line per request, `{"status": 200, "receipt": "<header or
//! null>", "body": "..."}`, then `{"close": <receipt or null>}`; or
//! `{"error": "..."}` with exit code 1 when the client gives up.

use std::process::ExitCode;
use std::time::Duration;

use mpp::PrivateKeySigner;
use mpp::client::{Fetch, TempoSessionProvider};

use crate::fail;

fn usage() -> ! {
    eprintln!(
        "usage: mpp-client session --url URL --key 0xKEY --rpc RPC_URL \
         --escrow 0xESCROW --deposit BASE_UNITS [--requests N]"
    );
    std::process::exit(2);
}

/// Runs the subcommand with the arguments after `session`.
pub async fn run(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut url, mut key, mut rpc, mut escrow, mut deposit) = (None, None, None, None, None);
    let mut requests: u32 = 3;
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--url" => url = Some(value),
            "--key" => key = Some(value),
            "--rpc" => rpc = Some(value),
            "--escrow" => escrow = Some(value),
            "--deposit" => deposit = Some(value.parse::<u128>().unwrap_or_else(|_| usage())),
            "--requests" => requests = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let (Some(url), Some(key), Some(rpc), Some(escrow), Some(deposit)) =
        (url, key, rpc, escrow, deposit)
    else {
        usage()
    };
    let signer: PrivateKeySigner = match key.parse() {
        Ok(signer) => signer,
        Err(e) => return fail(format!("bad private key: {e}")),
    };
    let Ok(escrow) = escrow.parse() else {
        return fail(format!("bad escrow address: {escrow}"));
    };
    let provider = match TempoSessionProvider::new(signer, &rpc) {
        Ok(provider) => provider
            .with_escrow_contract(escrow)
            .with_allow_custom_escrow(true)
            .with_default_deposit(deposit)
            .with_max_deposit(deposit),
        Err(e) => return fail(format!("TempoSessionProvider::new: {e}")),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client");

    for _ in 0..requests {
        // The crate pays only requests that say what they accept.
        let response = match client
            .get(&url)
            .header("Accept-Payment", "tempo/session")
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
        let body = match response.text().await {
            Ok(body) => body,
            Err(e) => return fail(format!("reading the body: {e}")),
        };
        println!(
            "{}",
            serde_json::json!({ "status": status, "receipt": receipt, "body": body })
        );
    }
    match provider.close(&client, &url).await {
        Ok(receipt) => {
            println!("{}", serde_json::json!({ "close": receipt }));
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("close failed: {e} ({e:?})")),
    }
}
