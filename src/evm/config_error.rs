//! The configurations the EVM method refuses at start-up.

use std::fmt;

/// A configuration the EVM method refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvmConfigError {
    /// A required setting is missing (`recipient`, `currency`, `rpc_url`).
    Missing(&'static str),
    /// A field that must be an address is not one.
    InvalidAddress {
        /// Which setting.
        field: &'static str,
        /// What it was set to.
        value: String,
    },
    /// Decimals must be between 0 and 38.
    InvalidDecimals(u8),
    /// The RPC URL does not parse or is not http(s).
    InvalidRpcUrl,
    /// The gas key is not a secp256k1 private key.
    InvalidGasPayerKey,
    /// A number from the environment is not one.
    InvalidNumber {
        /// The variable.
        variable: &'static str,
    },
    /// The credential types cannot be offered as configured (empty,
    /// `permit2` or `authorization` without a gas key, `authorization`
    /// without the token's EIP-712 domain, splits without `permit2`).
    InvalidCredentialTypes(&'static str),
    /// A split is zero, its memo too long, or there are more than
    /// [`MAX_SPLITS`](super::MAX_SPLITS).
    InvalidSplits(&'static str),
    /// No chain id was set: use
    /// [`EvmChargeBuilder::connect`](super::EvmChargeBuilder::connect) to ask the node.
    ChainIdUnknown,
    /// Asking the node for its chain id failed.
    ChainIdUnavailable(String),
    /// The node cannot be used: no TLS for its https URL, a root
    /// certificate that does not load, or another chain than configured.
    Node(String),
}

impl fmt::Display for EvmConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(what) => write!(f, "the EVM method needs a {what}"),
            Self::InvalidAddress { field, value } => {
                write!(f, "the {field} {value:?} is not an address")
            }
            Self::InvalidDecimals(d) => write!(f, "{d} decimals: must be at most 38"),
            Self::InvalidRpcUrl => f.write_str("the RPC URL is not an http(s) URL"),
            Self::InvalidGasPayerKey => f.write_str("the gas key is not a secp256k1 key"),
            Self::InvalidNumber { variable } => write!(f, "{variable} is not a number"),
            Self::InvalidCredentialTypes(why) | Self::InvalidSplits(why) => f.write_str(why),
            Self::ChainIdUnknown => {
                f.write_str("no chain id was set: set one, or connect() to ask the node")
            }
            Self::ChainIdUnavailable(why) => write!(f, "the node did not say its chain id: {why}"),
            Self::Node(why) => write!(f, "the node cannot be used: {why}"),
        }
    }
}

impl std::error::Error for EvmConfigError {}

impl From<crate::chain::rpc::NodeError> for EvmConfigError {
    fn from(error: crate::chain::rpc::NodeError) -> Self {
        Self::Node(error.to_string())
    }
}
