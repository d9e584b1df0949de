//! The EVM charge end to end: an axum app on a plain anvil chain with our
//! EIP-3009 stablecoin and the canonical Permit2, paid with each of the
//! draft's four credential types, and refused for every rule of the
//! draft's verification sections. Test names carry `evm` so that
//! `scripts/test evm` runs them.

#![cfg(all(feature = "evm", feature = "axum"))]

mod common;
mod evm_authorization;
#[cfg(feature = "client")]
mod evm_client;
mod evm_hash;
#[cfg(all(feature = "client", feature = "tempo"))]
mod evm_multi;
mod evm_permit2;
mod evm_slow_node;
mod evm_transaction;

#[path = "../support/anvil.rs"]
mod anvil;
#[path = "../support/escrow.rs"]
#[cfg(all(feature = "client", feature = "tempo"))]
mod escrow;
#[path = "../support/evm_chain.rs"]
mod evm_chain;
#[path = "../support/evm_payer.rs"]
mod evm_payer;
#[cfg(feature = "redis")]
#[path = "../support/redis_server.rs"]
mod redis_server;
#[path = "../server/common.rs"]
#[allow(dead_code)]
mod server_common;

mod support {
    #[cfg(all(feature = "client", feature = "tempo"))]
    pub(crate) use super::escrow;
    #[cfg(feature = "redis")]
    pub(crate) use super::redis_server;
    pub(crate) use super::{anvil, evm_chain, evm_payer};
}
