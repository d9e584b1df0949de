//! The configurations the Tempo method refuses at start-up.

use std::fmt;

/// A configuration the Tempo method refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TempoConfigError {
    /// No recipient was set.
    MissingRecipient,
    /// A field that must be an address is not one.
    InvalidAddress {
        /// Which setting.
        field: &'static str,
        /// What it was set to.
        value: String,
    },
    /// The memo is not 32 bytes of hex.
    InvalidMemo(String),
    /// Decimals must be between 1 and 38.
    InvalidDecimals(u8),
    /// The RPC URL does not parse or is not http(s).
    InvalidRpcUrl(String),
    /// The fee payer key is not a secp256k1 private key.
    InvalidFeePayerKey,
    /// The environment variable that should hold the fee payer key is unset.
    FeePayerKeyUnset {
        /// The variable.
        variable: String,
    },
    /// `TEMPO_CHAIN_ID` is not a chain id.
    InvalidChainId(String),
    /// A split is zero, or there are more than [`MAX_SPLITS`](super::MAX_SPLITS).
    InvalidSplits(String),
    /// `supported_modes` is empty, or excludes pull while fees are
    /// sponsored (sponsored charges cannot be paid by hash).
    InvalidModes(String),
    /// No chain id was set and the RPC URL is not the default one: use
    /// [`TempoChargeBuilder::connect`](super::TempoChargeBuilder::connect) to ask the node.
    ChainIdUnknown,
    /// Asking the node for its chain id failed.
    ChainIdUnavailable(String),
}

impl fmt::Display for TempoConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRecipient => f.write_str("the Tempo method needs a recipient"),
            Self::InvalidAddress { field, value } => {
                write!(f, "the {field} {value:?} is not an address")
            }
            Self::InvalidMemo(memo) => write!(f, "the memo {memo:?} is not 32 bytes of hex"),
            Self::InvalidDecimals(d) => write!(f, "{d} decimals: must be between 1 and 38"),
            Self::InvalidRpcUrl(url) => write!(f, "the RPC URL {url:?} is not an http(s) URL"),
            Self::InvalidFeePayerKey => f.write_str("the fee payer key is not a secp256k1 key"),
            Self::FeePayerKeyUnset { variable } => {
                write!(f, "the fee payer key variable {variable} is unset")
            }
            Self::InvalidChainId(text) => write!(f, "the chain id {text:?} is not a number"),
            Self::InvalidSplits(why) | Self::InvalidModes(why) => f.write_str(why),
            Self::ChainIdUnknown => {
                f.write_str("no chain id: set one, or build with `connect().await` to ask the node")
            }
            Self::ChainIdUnavailable(why) => write!(f, "could not read the chain id: {why}"),
        }
    }
}

impl std::error::Error for TempoConfigError {}
