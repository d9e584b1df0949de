//! The registry configurations [`PaymentsBuilder::build`] refuses.
//!
//! [`PaymentsBuilder::build`]: super::PaymentsBuilder::build

use std::fmt;

use crate::binding::SecretError;

/// A registry configuration that cannot work.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// No realm was configured.
    MissingRealm,
    /// The realm is empty or holds characters a header cannot carry.
    InvalidRealm,
    /// No secret was configured.
    MissingSecret,
    /// The secret is unusable.
    Secret(SecretError),
    /// The challenge expiry is zero.
    ZeroExpiry,
    /// No payment method was registered.
    NoMethods,
    /// A method name is not `1*LOWERALPHA`.
    InvalidMethodName(String),
    /// Two methods share a name.
    DuplicateMethod(String),
    /// `max_failed_attempts` is zero or the free-claim window is empty.
    ZeroLimit,
    /// The named method needs claims that survive a restart (see
    /// [`Store::is_durable`](crate::store::Store::is_durable)) and the store's do not.
    VolatileStore(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRealm => f.write_str("no realm configured (set one, or MPP_REALM)"),
            Self::InvalidRealm => f.write_str("the realm must be non-empty printable ASCII"),
            Self::MissingSecret => {
                f.write_str("no challenge-binding secret configured (set MPP_SECRET_KEY)")
            }
            Self::Secret(e) => write!(f, "{e}"),
            Self::ZeroExpiry => f.write_str("the challenge expiry must be positive"),
            Self::NoMethods => f.write_str("no payment method registered"),
            Self::InvalidMethodName(name) => {
                write!(f, "method name {name:?} must be lowercase ASCII letters")
            }
            Self::DuplicateMethod(name) => write!(f, "method {name:?} is registered twice"),
            Self::ZeroLimit => {
                f.write_str("max_failed_attempts and the free-claim window must be positive")
            }
            Self::VolatileStore(name) => write!(
                f,
                "method {name:?} needs a store whose claims survive a restart (a shared Redis): \
                 with one in memory a restart would let its used payments pay again"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            _ => None,
        }
    }
}
