//! What can be wrong in a [`TempoSession`](super::TempoSession)'s
//! configuration.

use std::fmt;

use alloy_primitives::Address;

use crate::tempo::TempoConfigError;

/// A session configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionConfigError {
    /// The payee's key (which signs `settle` and `close`) was not set.
    MissingPayeeKey,
    /// The payee's key is not a secp256k1 private key.
    InvalidPayeeKey,
    /// A recipient was set that is not the payee key's address: the escrow
    /// lets only the payee settle and close.
    RecipientIsNotPayee {
        /// The configured recipient.
        recipient: Address,
        /// The key's address.
        payee: Address,
    },
    /// No escrow was set and the chain has no known one.
    EscrowUnknown(u64),
    /// No chain id was set with a non-default RPC URL.
    ChainIdUnknown,
    /// The channel store forgets on restart and is not shared (the
    /// default memory store), and
    /// [`volatile_channel_store`](super::TempoSessionBuilder::volatile_channel_store)
    /// was not set.
    VolatileChannelStore,
    /// An address, the RPC URL or the decimals are invalid.
    Tempo(TempoConfigError),
}

impl fmt::Display for SessionConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingPayeeKey => f.write_str(
                "a session needs the payee's key (it signs settle and close): set TEMPO_PAYEE_KEY",
            ),
            Self::InvalidPayeeKey => f.write_str("the payee key is not a secp256k1 key"),
            Self::RecipientIsNotPayee { recipient, payee } => write!(
                f,
                "the recipient {recipient} is not the payee key's address {payee}"
            ),
            Self::EscrowUnknown(chain) => {
                write!(f, "no escrow contract is known on chain {chain}: set one")
            }
            Self::ChainIdUnknown => f.write_str("set the chain id with a custom RPC URL"),
            Self::VolatileChannelStore => f.write_str(
                "the channel store forgets accepted vouchers on restart and serves one instance \
                 only: share a durable store (RedisChannelStore), or accept the loss with \
                 volatile_channel_store(true)",
            ),
            Self::Tempo(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SessionConfigError {}

impl From<crate::chain::rpc::NodeError> for SessionConfigError {
    fn from(e: crate::chain::rpc::NodeError) -> Self {
        Self::Tempo(e.into())
    }
}

impl From<TempoConfigError> for SessionConfigError {
    fn from(e: TempoConfigError) -> Self {
        Self::Tempo(e)
    }
}
