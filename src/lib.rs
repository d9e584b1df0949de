//! The Machine Payments Protocol (MPP) for tower and axum servers.
//!
//! MPP gives HTTP `402 Payment Required` its semantics: a server answers an
//! unpaid request with one `WWW-Authenticate: Payment ...` challenge per
//! payment option, the client pays and retries with
//! `Authorization: Payment <credential>`, and the server verifies, settles,
//! serves and attaches a `Payment-Receipt`.
//!
//! This crate is built in layers:
//!
//! - [`protocol`]: the wire format (challenges, credentials, receipts,
//!   problem details, `Accept-Payment`, `Content-Digest`, amounts), no I/O.
//! - [`binding`]: stateless challenge ids (HMAC-SHA256 over the challenge)
//!   with secret rotation.
//! - [`method`]: the `PaymentMethod` trait and the `Payments` registry.
//! - [`layer`]: `PaymentLayer`, the tower middleware; [`axum`](mod@crate::axum)
//!   (feature `axum`): the `Charge` and `Payment` extractors.
//! - [`discovery`]: the OpenAPI document with `x-payment-info` offers.
//! - [`store`]: single-use claims, in memory or in Redis (feature `redis`).
//! - `tempo` (feature `tempo`): the Tempo charge method, settled on chain.
//! - `evm` (feature `evm`): the EVM charge method (Permit2, EIP-3009,
//!   transactions, hashes) on any EVM chain.
//! - `mcp` (feature `mcp`): paid MCP tools on rmcp, the JSON-RPC form of
//!   the same registry.
//! - `client` (feature `client`): the paying side: `send_with_payment` on
//!   reqwest, payment providers (Tempo with `tempo`), a spending policy.
//! - [`prelude`]: the names a server or a client needs, for
//!   `use tower_mpp::prelude::*;`.
//!
//! # Cargo features
//!
//! Items that need a feature say so in these docs.
//!
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
pub mod axum;
pub mod binding;
#[cfg(any(feature = "tempo", feature = "evm"))]
mod chain;
#[cfg(feature = "client")]
pub mod client;
pub mod discovery;
#[cfg(feature = "evm")]
pub mod evm;
pub mod layer;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod method;
#[cfg(test)]
mod package_metadata;
pub mod prelude;
pub mod protocol;
pub mod store;
pub mod stream;
#[cfg(feature = "tempo")]
pub mod tempo;
#[cfg(any(feature = "tempo", feature = "evm"))]
mod tls;

/// The README's examples, compiled (and run, unless `no_run`) as doctests:
/// complete programs, no hidden lines, so they need the features they use.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "client",
    feature = "mcp",
    feature = "redis",
    feature = "tempo"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
