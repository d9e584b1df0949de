//! An agent calling a paid MCP tool: the `-32042` and its challenges, the
//! payment (a Tempo charge), the result and its receipt.
//!
//! ```sh
//! PAYER_KEY=0x... TEMPO_RPC_URL=http://127.0.0.1:8545 \
//!     cargo run --example mcp_agent --features mcp,client,tempo -- http://127.0.0.1:3000/mcp joke
//! ```
//!
//! The server's realm must name the URL's host (as on HTTP).
//! `scripts/demo` runs it against the `mcp_tools` example.

use std::error::Error;
use std::process::ExitCode;

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::transport::StreamableHttpClientTransport;
use tower_mpp::client::mcp::McpPayer;
use tower_mpp::client::{PrivateKeySigner, TempoProvider};
use tower_mpp::mcp::wire::challenge_from_json;
use tower_mpp::protocol::format_amount;

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

fn text(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000/mcp".to_owned());
    let tool = args.next().unwrap_or_else(|| "joke".to_owned());
    let signer: PrivateKeySigner = env("PAYER_KEY")?
        .parse()
        .map_err(|_| "PAYER_KEY is not a private key")?;
    let provider = TempoProvider::new(signer, env("TEMPO_RPC_URL")?)?;
    let host = url::Url::parse(&url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();

    let client = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await?;
    let info = client.peer_info().ok_or("no server info")?;
    let payment = info
        .capabilities
        .experimental
        .as_ref()
        .and_then(|e| e.get("payment"));
    println!(
        "connected to {url}; the server accepts {}",
        serde_json::to_string(&payment)?
    );
    let tools = client.list_all_tools().await?;
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    println!("tools: {}", names.join(", "));

    // Once without paying, to show what the server asks.
    println!("\n> tools/call {tool} (no credential)");
    match client
        .call_tool(CallToolRequestParams::new(tool.clone()))
        .await
    {
        Err(rmcp::ServiceError::McpError(error)) => {
            println!("< error {}: {}", error.code.0, error.message);
            let data = error.data.unwrap_or_default();
            for raw in data["challenges"].as_array().into_iter().flatten() {
                let challenge = challenge_from_json(raw)?;
                let request = challenge.request.object();
                let amount = request["amount"].as_str().unwrap_or("?");
                let amount = amount
                    .parse::<u128>()
                    .map_or_else(|_| amount.to_owned(), |a| format_amount(a, 6));
                println!(
                    "  challenge {} ({}/{}), realm {}: {amount} of {} to {}, expires {}",
                    challenge.id,
                    challenge.method,
                    challenge.intent,
                    challenge.realm,
                    request["currency"].as_str().unwrap_or("?"),
                    request["recipient"].as_str().unwrap_or("?"),
                    challenge.expires.as_ref().map_or("never", |e| e.as_str()),
                );
            }
        }
        Ok(result) => println!("< free: {}", text(&result.content)),
        Err(other) => return Err(other.into()),
    }

    println!("\n> tools/call {tool}, paying what it asks");
    let paid = McpPayer::new(&provider, host)
        .call_tool(client.peer(), CallToolRequestParams::new(tool))
        .await?;
    println!("< {}", text(&paid.result.content));
    match paid.receipt {
        Some(receipt) => println!(
            "  receipt (result._meta): method {}, settled {}, transaction {}",
            receipt.method,
            receipt.timestamp.as_str(),
            receipt.reference
        ),
        None => println!("  (no receipt: the tool was free)"),
    }
    client.cancel().await?;
    Ok(())
}
