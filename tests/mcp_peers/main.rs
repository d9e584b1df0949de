//! MCP peers we did not write, on a real Tempo chain (anvil with
//! `--network tempo`): mppx 0.11's MCP client (`mppx/mcp-sdk/client` on
//! `@modelcontextprotocol/sdk`) and pympp 0.16's `McpClient` (extra `mcp`)
//! pay a tool of our `PaidServer` over streamable HTTP with a Tempo charge.
//! Each: the receipt read and naming the challenge, the payment on chain,
//! the paying credential refused when sent again.
//!
//! And the other way: our `McpPayer` pays a tool served by mppx's MCP
//! server transport (`mppx/mcp-sdk/server`) and one behind pympp's `pay`
//! decorator (`mpp.extensions.mcp`, on the Python `mcp` SDK).
//!
//! A missing peer fails with how to install it (scripts/test does);
//! nothing is skipped.

#![cfg(all(feature = "mcp", feature = "tempo", feature = "axum"))]

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../mcp/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../support/listening.rs"]
mod listening;
#[path = "../support/peer_server.rs"]
mod peer_server;
mod peers;
#[path = "../support/pympp_venv.rs"]
mod pympp_venv;
#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;
mod servers;
