//! The session intent end to end: an axum app offering a Tempo charge and a
//! Tempo session side by side, on a real Tempo chain (anvil with
//! `--network tempo`) with the real escrow deployed, paid by a test-side
//! session payer: open, vouchers, top-up, close, settlement, every refusal
//! the spec lists, concurrency on one channel, Redis shared by instances.

#![cfg(all(feature = "tempo", feature = "redis"))]

mod common;
mod concurrency;
mod flow;
mod hangup;
mod lookups;
mod refusals;
mod replays;
mod robbery;
mod settlement;
mod sponsor_limits;
mod sponsored;
mod stream_limits;
mod streaming;

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/escrow.rs"]
mod escrow_support;
#[path = "../support/redis_server.rs"]
mod redis_server;
#[path = "../support/rpc_proxy.rs"]
mod rpc_proxy;
#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;
#[path = "../support/session_payer.rs"]
mod session_payer;
#[path = "../support/tempo_payer.rs"]
mod tempo_payer;

mod support {
    pub(crate) use super::escrow_support as escrow;
    pub(crate) use super::{anvil, redis_server, rpc_proxy, session_payer, tempo_payer};
}
