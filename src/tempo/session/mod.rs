//! The Tempo `session` intent (`draft-tempo-session-00`, `sessionProtocol`
//! v1): pay-as-you-go on payment channels of the `TempoStreamChannel`
//! escrow contract, paid with cumulative vouchers.
//!
//! [`TempoSession`] is the payment method (open, top-up, voucher, close;
//! settlement and the forced-close watch in [`TempoSession::settler`]); its
//! channels live in a [`ChannelStore`](crate::store::ChannelStore). Under it
//! are what both sides of a session compute and what the escrow contract
//! checks on chain:
//!
//! - the request and the four payload actions as JSON ([`SessionRequest`],
//!   [`SessionPayload`]);
//! - the escrow's ABI as deployed ([`ITempoStreamChannel`]) and the
//!   [`channel_id`] it derives;
//! - the EIP-712 [`voucher_signing_hash`] and [`recover_voucher_signer`],
//!   which refuses the malleable high-`s` signatures the spec forbids;
//! - a channel's accounting ([`ChannelState`]): vouchers and charges as
//!   pure transitions, for a channel store to apply atomically.
//!
//! The channel id and the voucher hash are checked against the deployed
//! contract on anvil (`tests/tempo/escrow.rs`: `computeChannelId`,
//! `getVoucherDigest`).
//!
//! ```
//! use tower_mpp::tempo::session::{recover_voucher_signer, voucher_signing_hash};
//! # use alloy_primitives::{Address, B256};
//! let escrow: Address = "0x33b901018174DDabE4841042ab76ba85D4e24f25".parse().unwrap();
//! let hash = voucher_signing_hash(4217, escrow, B256::repeat_byte(1), 1_000);
//! // A 65-byte signature of `hash` recovers its signer; a malformed one is
//! // an error, never a panic.
//! assert!(recover_voucher_signer(&[0u8; 65], &hash).is_err());
//! ```

mod chain;
mod config;
mod config_error;
mod escrow;
mod lookups;
mod method;
mod open;
mod settle;
mod sponsor;
mod voucher;
pub(crate) mod wire;

pub use config::{DEFAULT_SPONSORED_GAS, TESTNET_CHAIN_ID, TempoSessionBuilder};
pub use config_error::SessionConfigError;
pub use method::TempoSession;
pub use settle::{SettleReport, SettleThreshold};

pub use crate::store::{AccountingError, ChannelState, VoucherOutcome};
pub use escrow::{ITempoStreamChannel, MAINNET_ESCROW, TESTNET_ESCROW, channel_id};
pub use voucher::{
    VOUCHER_DOMAIN_NAME, VOUCHER_DOMAIN_VERSION, VoucherHasher, VoucherSignatureError,
    recover_voucher_signer, voucher_signing_hash,
};
pub use wire::{SessionDetails, SessionPayload, SessionRequest};
