//! The Tempo method end to end: an axum app on a real Tempo chain (anvil
//! with `--network tempo`), paid in pull, push and proof modes, with fee
//! sponsorship, splits and memos, and refused for every way a payment can
//! be wrong, including a failing node.

#![cfg(feature = "tempo")]

mod abuse;
mod common;
mod escrow;
mod hangup;
mod proof;
mod pull;
mod push;
mod rejections;
mod rpc_faults;
mod sponsorship;

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/escrow.rs"]
mod escrow_support;
#[cfg(feature = "redis")]
#[path = "../support/redis_server.rs"]
mod redis_server;
#[path = "../support/rpc_proxy.rs"]
mod rpc_proxy;
#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;
#[path = "../support/tempo_payer.rs"]
mod tempo_payer;

mod support {
    pub(crate) use super::escrow_support as escrow;
    #[cfg(feature = "redis")]
    pub(crate) use super::redis_server;
    pub(crate) use super::{anvil, rpc_proxy, tempo_payer};
}
