//! `mpp-client session`: pays a URL with the `mpp` crate's session client
//! (`TempoSessionProvider`, the custom escrow allowed): the first request
//! opens a channel, the next ones send cumulative vouchers, then the client
//! closes the channel.
//!
//! Usage: mpp-client session --url URL --key 0xKEY --rpc RPC_URL
//!        --escrow 0xESCROW --deposit BASE_UNITS [--requests N] [--stream yes]
//!
//! Prints one JSON line per request, `{"status": 200, "receipt": "<header or
//! null>", "body": "..."}`, then `{"close": <receipt or null>}`; or
//! `{"error": "..."}` with exit code 1 when the client gives up. With
//! `--stream yes` each request reads a metered SSE stream instead, letting
//! the crate answer its `payment-need-voucher` events
//! (`TempoSessionProvider::stream_event`), and its line is `{"status": 200,
//! "messages": [...], "receipt": <the payment-receipt event's data>}`.

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
    let mut stream = false;
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--url" => url = Some(value),
            "--key" => key = Some(value),
            "--rpc" => rpc = Some(value),
            "--escrow" => escrow = Some(value),
            "--deposit" => deposit = Some(value.parse::<u128>().unwrap_or_else(|_| usage())),
            "--requests" => requests = value.parse().unwrap_or_else(|_| usage()),
            "--stream" => stream = value == "yes",
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
        if stream {
            match read_stream(&client, &url, &provider).await {
                Ok(line) => println!("{line}"),
                Err(e) => return fail(e),
            }
            continue;
        }
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

/// One paid request read as a metered SSE stream: the crate answers each
/// `payment-need-voucher`; the messages and the final receipt.
async fn read_stream(
    client: &reqwest::Client,
    url: &str,
    provider: &TempoSessionProvider,
) -> Result<serde_json::Value, String> {
    let mut response = client
        .get(url)
        .header("Accept-Payment", "tempo/session")
        .header("Accept", "text/event-stream")
        .send_with_payment(provider)
        .await
        .map_err(|e| format!("payment flow failed: {e} ({e:?})"))?;
    let status = response.status().as_u16();
    let (mut buffer, mut messages, mut receipt) = (String::new(), Vec::new(), None);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = "message".to_owned();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                }
            }
            // A block without data (a `: keep-alive` comment) is no event.
            if data.is_empty() {
                continue;
            }
            let data = data.join("\n");
            match name.as_str() {
                "message" => messages.push(data.clone()),
                "payment-receipt" => {
                    receipt = serde_json::from_str::<serde_json::Value>(&data).ok();
                }
                _ => {}
            }
            if let Some(work) = provider.stream_event(client, url, &name, &data) {
                work.await
                    .map_err(|e| format!("answering {name}: {e} ({e:?})"))?;
            }
        }
        match response.chunk().await {
            Ok(Some(chunk)) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(None) => break,
            Err(e) => return Err(format!("reading the stream: {e}")),
        }
    }
    Ok(serde_json::json!({ "status": status, "messages": messages, "receipt": receipt }))
}
