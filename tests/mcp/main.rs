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
mod session;
mod stdio;
mod tempo;

#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/escrow.rs"]
mod escrow_support;
#[path = "../session/common.rs"]
#[allow(dead_code)]
mod session_common;
#[path = "../support/session_payer.rs"]
mod session_payer;
#[path = "../support/tempo_payer.rs"]
mod tempo_payer;

mod support {
    pub(crate) use super::escrow_support as escrow;
    pub(crate) use super::{anvil, session_payer, tempo_payer};
}
