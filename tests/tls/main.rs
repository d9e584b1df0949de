//! Real TLS on loopback, with a certificate authority and a server
//! certificate made at run time (tests/support/tls.rs): a Tempo charge and
//! a session settled through an `https://` node (a rustls proxy in front
//! of anvil), paid by our clients to an `https://` axum server, on both
//! Tokio runtime flavours; certificates the roots do not know refused, with
//! start-up errors naming the node's host and the cause. The EVM charge
//! and `EvmProvider` through an `https://` node too (feature `evm`).

#![cfg(all(
    feature = "tempo",
    feature = "redis",
    feature = "client",
    feature = "rustls"
))]

#[path = "../session/common.rs"]
#[allow(dead_code)]
mod common;
#[cfg(feature = "evm")]
mod evm;
mod https;

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/escrow.rs"]
mod escrow_support;
#[cfg(feature = "evm")]
#[path = "../support/evm_chain.rs"]
#[allow(dead_code)]
mod evm_chain;
#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;
#[path = "../support/session_payer.rs"]
mod session_payer;
#[path = "../support/tempo_payer.rs"]
mod tempo_payer;
#[path = "../support/tls.rs"]
mod tls;

mod support {
    pub(crate) use super::escrow_support as escrow;
    #[cfg(feature = "evm")]
    pub(crate) use super::evm_chain;
    #[allow(unused_imports)]
    pub(crate) use super::{anvil, session_payer, tempo_payer, tls};
}
