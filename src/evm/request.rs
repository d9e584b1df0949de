//! The `request` object of an EVM charge challenge, typed: written into
//! challenges by [`EvmCharge`](super::EvmCharge) and read back when a
//! credential arrives, so the verifier checks exactly what was offered.

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

/// The most splits a charge carries (the draft's SHOULD).
pub const MAX_SPLITS: usize = 10;

/// The four credential types of `draft-evm-charge-00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    /// A Permit2 `permitWitnessTransferFrom` signature; the server submits.
    Permit2,
    /// An EIP-3009 `transferWithAuthorization` signature; the server
    /// submits.
    Authorization,
    /// A signed ERC-20 `transfer` transaction; the server broadcasts.
    Transaction,
    /// The hash of a transfer the client broadcast.
    Hash,
}

impl CredentialType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit2 => "permit2",
            Self::Authorization => "authorization",
            Self::Transaction => "transaction",
            Self::Hash => "hash",
        }
    }

    /// Whether the server pays the gas of this type's settlement.
    pub fn server_pays_gas(self) -> bool {
        matches!(self, Self::Permit2 | Self::Authorization)
    }
}

/// One more recipient of a charge, paid from its amount (Permit2 only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvmSplit {
    /// Base units for this recipient.
    #[serde(with = "crate::chain::wire::decimal_u256")]
    pub amount: U256,
    /// Who receives them.
    #[serde(serialize_with = "crate::chain::wire::checksummed")]
    pub recipient: Address,
    /// A label, at most 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

fn canonical_permit2() -> Address {
    super::PERMIT2_ADDRESS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MethodDetails {
    pub(crate) chain_id: u64,
    /// Always written; read as the canonical address when absent (the
    /// draft's default, and mppx 0.11's servers leave it out).
    #[serde(
        default = "canonical_permit2",
        serialize_with = "crate::chain::wire::checksummed"
    )]
    pub(crate) permit2_address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credential_types: Option<Vec<CredentialType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) decimals: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) splits: Vec<EvmSplit>,
    /// The address that submits Permit2 transfers: the permit's `spender`
    /// (Permit2 binds it into the signature, so a client must know it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::chain::wire::checksummed_option"
    )]
    pub(crate) spender: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvmRequest {
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
    pub(crate) method_details: MethodDetails,
}

impl EvmRequest {
    /// What the primary recipient receives: the amount less the splits,
    /// `None` when the splits leave nothing (the request is invalid).
    pub(crate) fn primary_amount(&self) -> Option<U256> {
        let splits = self.method_details.splits.iter().map(|split| split.amount);
        crate::chain::wire::primary_amount(self.amount, splits)
    }

    /// Whether the challenge accepts `kind`: the listed types, or by the
    /// draft's default `transaction` and `hash`.
    pub(crate) fn accepts(&self, kind: CredentialType) -> bool {
        match &self.method_details.credential_types {
            Some(types) => types.contains(&kind),
            None => matches!(kind, CredentialType::Transaction | CredentialType::Hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draft's splits example, read and written back.
    #[test]
    fn the_drafts_split_example_round_trips() {
        let json = r#"{"amount":"1050000","currency":"0xe15fc38f6d8c56af07bbcbe3baf5708a2bf42392","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00","description":"Marketplace purchase","methodDetails":{"chainId":1329,"permit2Address":"0x000000000022D473030F116dDEE9F6B43aC78BA3","credentialTypes":["permit2"],"splits":[{"recipient":"0x8Ba1f109551bD432803012645Ac136ddd64DBA72","amount":"50000","memo":"platform fee"}]}}"#;
        let request: EvmRequest = serde_json::from_str(json).unwrap();
        assert_eq!(request.primary_amount(), Some(U256::from(1_000_000)));
        assert!(request.accepts(CredentialType::Permit2));
        assert!(!request.accepts(CredentialType::Hash));
        let again: EvmRequest =
            serde_json::from_value(serde_json::to_value(&request).unwrap()).unwrap();
        assert_eq!(again, request);
    }

    #[test]
    fn without_credential_types_transaction_and_hash_are_accepted() {
        let json = r#"{"amount":"1","currency":"0xe15fc38f6d8c56af07bbcbe3baf5708a2bf42392","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00","methodDetails":{"chainId":1,"permit2Address":"0x000000000022D473030F116dDEE9F6B43aC78BA3"}}"#;
        let request: EvmRequest = serde_json::from_str(json).unwrap();
        assert!(request.accepts(CredentialType::Transaction));
        assert!(request.accepts(CredentialType::Hash));
        assert!(!request.accepts(CredentialType::Permit2));
        assert!(!request.accepts(CredentialType::Authorization));
    }

    /// mppx 0.11's servers leave `permit2Address` out: the canonical one.
    #[test]
    fn a_missing_permit2_address_is_the_canonical_one() {
        let json = r#"{"amount":"10000","currency":"0x0000000000000000000000000000000000000001","methodDetails":{"chainId":31337,"credentialTypes":["authorization"],"decimals":6},"recipient":"0x0000000000000000000000000000000000000002"}"#;
        let request: EvmRequest = serde_json::from_str(json).unwrap();
        assert_eq!(
            request.method_details.permit2_address,
            super::super::PERMIT2_ADDRESS
        );
    }
}
