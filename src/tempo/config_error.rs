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
    /// Asking the node for its chain id failed: the node's host, then why
    /// (unreachable, a TLS failure, a bad answer).
    ChainIdUnavailable(String),
    /// The node answers another chain id than the one configured.
    ChainIdMismatch {
        /// The node's host (and port).
        host: String,
        /// The chain id configured.
        configured: u64,
        /// The chain id the node answered.
        node: u64,
    },
    /// The RPC URL (of this host) is https, and this build has no TLS:
    /// enable the `rustls` or `native-tls` feature.
    TlsUnavailable(String),
    /// A root certificate given to the builder cannot be used, or the HTTP
    /// client cannot be made with it.
    InvalidRootCertificate(String),
}

impl fmt::Display for TempoConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRecipient => {
                f.write_str("the Tempo method needs a recipient (TEMPO_RECIPIENT)")
            }
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
            Self::ChainIdUnavailable(why) => {
                write!(f, "could not read the chain id of the node at {why}")
            }
            Self::ChainIdMismatch {
                host,
                configured,
                node,
            } => write!(
                f,
                "the node at {host} is on chain {node}, not the configured chain {configured}"
            ),
            Self::TlsUnavailable(host) => write!(
                f,
                "the RPC URL of {host} is https, and this build has no TLS: \
                 enable the `rustls` or `native-tls` feature"
            ),
            Self::InvalidRootCertificate(why) => write!(f, "root certificate: {why}"),
        }
    }
}

impl std::error::Error for TempoConfigError {}

impl From<crate::chain::rpc::NodeError> for TempoConfigError {
    fn from(error: crate::chain::rpc::NodeError) -> Self {
        use crate::chain::rpc::NodeError;
        match error {
            NodeError::ChainIdUnavailable(why) => Self::ChainIdUnavailable(why),
            NodeError::ChainIdMismatch {
                host,
                configured,
                node,
            } => Self::ChainIdMismatch {
                host,
                configured,
                node,
            },
            NodeError::TlsUnavailable(host) => Self::TlsUnavailable(host),
            NodeError::InvalidRootCertificate(why) => Self::InvalidRootCertificate(why),
        }
    }
}
