//! Paid MCP tools: `PaidServer` on rmcp, in process (rmcp's own client over
//! a duplex pipe, and raw JSON-RPC over streamable HTTP on axum), and
//! `McpPayer` paying it, with a test method and with Tempo on anvil.

#![cfg(all(
    feature = "mcp",
    feature = "client",
    feature = "tempo",
    feature = "axum"
))]

mod client;
mod common;
mod http;
mod server;
mod tempo;

#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;

#[path = "../support/anvil.rs"]
mod anvil;

mod support {
    pub(crate) use super::anvil;
}
