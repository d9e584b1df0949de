//! Session clients we did not write pay our session server on a real Tempo
//! chain (anvil with `--network tempo`, the real `TempoStreamChannel`
//! deployed): the `mpp` crate 0.18's `TempoSessionProvider` (through
//! `tests/peers/mpp-client session`) and mppx 0.11's v1 client
//! `sessionLegacyManager` (through `tests/peers/mppx_session_client.mjs`).
//! Each opens a channel, pays several requests with vouchers, and closes;
//! we check every receipt, that the close settled exactly what was spent,
//! and that no voucher reached the chain (the counting RPC proxy).
//!
//! A missing peer fails with how to install it (scripts/test does);
//! nothing is skipped.

#![cfg(all(feature = "tempo", feature = "redis"))]

#[path = "../session/common.rs"]
#[allow(dead_code)]
mod common;
#[cfg(feature = "client")]
mod peer_server;
mod peers;

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
    #[allow(unused_imports)]
    pub(crate) use super::{anvil, redis_server, rpc_proxy, session_payer, tempo_payer};
}
