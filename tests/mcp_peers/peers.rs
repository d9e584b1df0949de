//! Our MCP server, paid by the peers' MCP clients.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{U256, hex};
use alloy::signers::local::PrivateKeySigner;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;
use tower_mpp::mcp::PaidServer;
use tower_mpp::mcp::wire::receipt_from_json;
use tower_mpp::method::{Payments, Price};
use tower_mpp::tempo::TempoCharge;

use crate::anvil::{Anvil, CHAIN_ID, PATH_USD};
use crate::common::Tools;
use crate::pympp_venv::pympp_python;

/// The realm: the host the peers connect to.
const REALM: &str = "127.0.0.1";
/// What `joke` costs: 0.01 `PathUSD`.
const PRICE: u128 = 10_000;

/// A chain, and our server's `joke` tool paid in `PathUSD` to a fresh
/// recipient over streamable HTTP.
struct Served {
    anvil: Anvil,
    url: String,
    recipient: alloy::primitives::Address,
    tools: Tools,
}

async fn serve() -> Served {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let recipient = PrivateKeySigner::random().address();
    let method = TempoCharge::builder()
        .recipient(recipient.to_string())
        .rpc_url(&anvil.url)
        .chain_id(CHAIN_ID)
        .receipt_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm(REALM)
        .secret("mcp peer tests: a secret of thirty-two bytes")
        .method(method)
        .build()
        .unwrap();
    let tools = Tools::default();
    let server = PaidServer::new(tools.clone(), payments).tool("joke", Price::new("0.01").unwrap());
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        anvil,
        url,
        recipient,
        tools,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a peer client to completion; its one JSON line.
async fn run(mut command: Command, name: &str) -> Value {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("{name} did not start ({e}): run scripts/test, which installs it")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "{name} printed no JSON ({}):\n{stdout}\n{stderr}",
            output.status
        )
    })
}

/// What every peer must have done: paid once, on chain, with a receipt
/// naming a mined transaction, and been refused the replay.
async fn check(served: &Served, answer: &Value, name: &str) {
    assert!(answer.get("error").is_none(), "{name}: {answer}");
    let (receipt, challenge_id) = receipt_from_json(&answer["receipt"])
        .unwrap_or_else(|e| panic!("{name}: unreadable receipt ({e}): {answer}"));
    assert_eq!(receipt.method, "tempo");
    assert!(!challenge_id.is_empty());
    let mined: Value = served
        .anvil
        .rpc(
            "eth_getTransactionReceipt",
            serde_json::json!([receipt.reference]),
        )
        .await;
    assert_eq!(mined["status"], "0x1", "{name}: {mined}");
    assert_eq!(answer["replay"]["code"], -32043, "{name}: {answer}");
    assert_eq!(
        served.anvil.balance(PATH_USD, served.recipient).await,
        U256::from(PRICE),
        "{name}: paid exactly once"
    );
    assert_eq!(
        served
            .tools
            .served
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn mcp_peer_mppx_mcp_client_pays_our_tool() {
    let served = serve().await;
    let payer = served.anvil.funded_payer(1_000_000).await;
    let mut command = Command::new("node");
    command
        .arg(root().join("tests/peers/mppx_mcp_client.mjs"))
        .env("MCP_URL", &served.url)
        .env("TEMPO_RPC_URL", &served.anvil.url)
        .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string())
        .env("PAYER_KEY", format!("0x{}", hex::encode(payer.to_bytes())));
    let answer = run(command, "mppx's MCP client").await;
    check(&served, &answer, "mppx").await;
}

#[tokio::test]
async fn mcp_peer_pympp_mcp_client_pays_our_tool() {
    let served = serve().await;
    // pympp signs `valid_before = now + 60 s`; the chain takes at most 30 s
    // more than its own clock (as in tests/peer_clients.rs).
    served.anvil.shift_clock(40).await;
    let payer = served.anvil.funded_payer(1_000_000).await;
    let mut command = Command::new(pympp_python("pympp's MCP client"));
    command
        .arg(root().join("tests/peers/pympp_mcp_client.py"))
        .env("MCP_URL", &served.url)
        .env("TEMPO_RPC_URL", &served.anvil.url)
        .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string())
        .env("PAYER_KEY", format!("0x{}", hex::encode(payer.to_bytes())));
    let answer = run(command, "pympp's McpClient").await;
    check(&served, &answer, "pympp").await;
}
