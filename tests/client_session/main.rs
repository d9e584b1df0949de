//! Our session client (`TempoSessionProvider`) pays our session server on a
//! real Tempo chain (anvil with `--network tempo`, the real escrow):
//! requests paid with vouchers and no transaction, an automatic top-up, a
//! close settling exactly what was vouched, a restart from a file book,
//! deposit caps refused before anything is signed, and metered streams
//! paid as they are read; and servers that lie to the client (receipts
//! claiming more than was vouched, another server's channel, endless
//! `410`s) get no more than the client vouched and its policy allowed.

#![cfg(all(
    feature = "tempo",
    feature = "redis",
    feature = "client",
    feature = "reqwest-middleware"
))]

#[path = "../session/common.rs"]
#[allow(dead_code)]
mod common;
mod flows;
mod hostile;
mod limits;
mod retired;

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
