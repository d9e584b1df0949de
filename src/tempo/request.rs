//! The `request` object of a Tempo charge challenge, typed.
//!
//! The same type is written into challenges (by
//! [`TempoCharge::request`](super::TempoCharge)) and read back when a
//! credential arrives, so the verifier checks exactly what was offered.

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

/// The two ways of paying a non-zero Tempo charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The client signs a transaction and the server broadcasts it
    /// (`type="transaction"` credentials).
    Pull,
    /// The client broadcasts and sends the transaction hash
    /// (`type="hash"` credentials).
    Push,
}

impl Mode {
    /// The mode's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
        }
    }
}

/// A share of a charge paid to another recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    /// Base units this recipient receives.
    #[serde(with = "crate::chain::wire::decimal_u256")]
    pub amount: U256,
    /// The recipient.
    #[serde(serialize_with = "crate::chain::wire::checksummed")]
    pub recipient: Address,
    /// A memo this transfer must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<B256>,
}

/// `methodDetails` of a Tempo charge.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MethodDetails {
    pub(crate) chain_id: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) fee_payer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memo: Option<B256>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) splits: Vec<Split>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) supported_modes: Option<Vec<Mode>>,
}

/// The `request` of a Tempo charge challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChargeRequest {
    #[serde(with = "crate::chain::wire::decimal_u256")]
    pub(crate) amount: U256,
    #[serde(serialize_with = "crate::chain::wire::checksummed")]
    pub(crate) currency: Address,
    #[serde(serialize_with = "crate::chain::wire::checksummed")]
    pub(crate) recipient: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
    /// Optional on the wire; a request without it names no chain.
    #[serde(default)]
    pub(crate) method_details: MethodDetails,
}

impl ChargeRequest {
    /// What the primary recipient receives: the amount less the splits.
    /// Requests are built with splits summing below the amount; a request
    /// that does not is refused here rather than wrapped.
    pub(crate) fn primary_amount(&self) -> Option<U256> {
        let splits = self.method_details.splits.iter().map(|split| split.amount);
        crate::chain::wire::primary_amount(self.amount, splits)
    }

    /// Whether `mode` may pay this request.
    pub(crate) fn allows(&self, mode: Mode) -> bool {
        self.method_details
            .supported_modes
            .as_ref()
            .is_none_or(|modes| modes.contains(&mode))
    }
}

/// Addresses are written with their EIP-55 checksum, as the spec's
/// examples are (and read in any case).
#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    fn request(json: &str) -> Result<ChargeRequest, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn the_spec_example_round_trips() {
        let json = r#"{"amount":"1000000","currency":"0x20c0000000000000000000000000000000000000","methodDetails":{"chainId":4217,"feePayer":true,"splits":[{"amount":"50000","recipient":"0xA1B2C3D4E5F6A1B2C3D4E5F6A1B2C3D4E5F6A1B2"}]},"recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00"}"#;
        let parsed = request(json).unwrap();
        assert_eq!(parsed.amount, U256::from(1_000_000));
        assert_eq!(parsed.primary_amount(), Some(U256::from(950_000)));
        assert_eq!(
            parsed.method_details.splits[0].recipient,
            address!("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2")
        );
        assert!(parsed.allows(Mode::Push) && parsed.allows(Mode::Pull));
        let again: ChargeRequest =
            serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn amounts_are_canonical_integer_strings() {
        for bad in [
            "\"\"", "\"-1\"", "\"1.0\"", "\"1e6\"", "\" 1\"", "\"01\"", "1000",
        ] {
            let json = format!(
                r#"{{"amount":{bad},"currency":"0x20c0000000000000000000000000000000000000","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00","methodDetails":{{"chainId":1}}}}"#
            );
            assert!(request(&json).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn splits_that_eat_the_whole_amount_leave_no_primary_amount() {
        let json = r#"{"amount":"10","currency":"0x20c0000000000000000000000000000000000000","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00","methodDetails":{"chainId":1,"supportedModes":["pull"],"splits":[{"amount":"10","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00"}]}}"#;
        let parsed = request(json).unwrap();
        assert_eq!(parsed.primary_amount(), None);
        assert!(parsed.allows(Mode::Pull) && !parsed.allows(Mode::Push));
    }
}
