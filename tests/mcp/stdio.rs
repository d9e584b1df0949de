//! Over stdio: the `mcp_tools` example run as a child process (built by
//! `cargo build --examples --all-features` in scripts/test), its paid tool
//! paid by `McpPayer` with a Tempo charge on anvil.

use std::path::PathBuf;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use tower_mpp::client::TempoProvider;
use tower_mpp::client::mcp::McpPayer;

use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};

fn example() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let path = target.join("debug/examples/mcp_tools");
    assert!(
        path.exists(),
        "the `mcp_tools` example is not built at {}: run `cargo build --examples \
         --all-features` (scripts/test does) before this test",
        path.display()
    );
    path
}

#[tokio::test]
async fn mcp_over_stdio_a_tempo_charge_pays_the_example_tool() {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let recipient = PrivateKeySigner::random().address();
    let mut command = tokio::process::Command::new(example());
    command
        .env("MCP_TRANSPORT", "stdio")
        .env(
            "MPP_SECRET_KEY",
            "mcp stdio tests: a secret of thirty-two bytes",
        )
        .env("MPP_REALM", "tools.local")
        .env("TEMPO_RECIPIENT", recipient.to_string())
        .env("TEMPO_RPC_URL", &anvil.url)
        .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string());
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();

    let payer = anvil.funded_payer(1_000_000).await;
    let provider = TempoProvider::new(payer, &anvil.url).unwrap();
    let paid = McpPayer::new(&provider, "tools.local")
        .call_tool(client.peer(), CallToolRequestParams::new("joke"))
        .await
        .unwrap();
    assert!(paid.receipt.is_some());
    assert_eq!(
        anvil.balance(PATH_USD, recipient).await,
        U256::from(10_000u64)
    );
    let free = McpPayer::new(&provider, "tools.local")
        .call_tool(client.peer(), CallToolRequestParams::new("ping"))
        .await
        .unwrap();
    assert!(free.receipt.is_none());
    client.cancel().await.unwrap();
}
