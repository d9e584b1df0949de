//! The digests EVM charge credentials sign (EIP-712), and the challenge
//! hash that binds them to one challenge. Clients and servers share them.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, SolValue, sol};

/// Permit2's canonical address on every chain.
pub const PERMIT2_ADDRESS: Address =
    alloy_primitives::address!("000000000022D473030F116dDEE9F6B43aC78BA3");

/// The witness type string the draft fixes (its spelling, a space after
/// the comma included, is what Permit2 hashes).
pub const PERMIT2_WITNESS_TYPE_STRING: &str = "PaymentWitness witness)PaymentWitness(bytes32 challengeHash, string externalId)TokenPermissions(address token,uint256 amount)";

const PAYMENT_WITNESS_TYPE: &str = "PaymentWitness(bytes32 challengeHash, string externalId)";
const TOKEN_PERMISSIONS_TYPE: &str = "TokenPermissions(address token,uint256 amount)";
const SINGLE_STUB: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,";
const BATCH_STUB: &str = "PermitBatchWitnessTransferFrom(TokenPermissions[] permitted,address spender,uint256 nonce,uint256 deadline,";
const PERMIT2_DOMAIN_TYPE: &str =
    "EIP712Domain(string name,uint256 chainId,address verifyingContract)";

sol! {
    /// EIP-3009's signed message.
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// `keccak256(abi.encodePacked(id, realm))`: what a `permit2` witness and an
/// `authorization` nonce carry to name their challenge.
pub fn challenge_hash(id: &str, realm: &str) -> B256 {
    let mut packed = Vec::with_capacity(id.len() + realm.len());
    packed.extend_from_slice(id.as_bytes());
    packed.extend_from_slice(realm.as_bytes());
    keccak256(packed)
}

/// The EIP-712 domain of a token's EIP-3009 authorizations (USDC's is
/// `{name: "USD Coin", version: "2"}` on most chains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDomain {
    /// The domain's `name`.
    pub name: String,
    /// The domain's `version`.
    pub version: String,
}

/// The fields of an EIP-3009 `transferWithAuthorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorization {
    /// The payer.
    pub from: Address,
    /// The recipient.
    pub to: Address,
    /// Base units.
    pub value: U256,
    /// Valid strictly after this Unix time.
    pub valid_after: U256,
    /// Valid strictly before this Unix time.
    pub valid_before: U256,
    /// The challenge hash.
    pub nonce: B256,
}

/// The digest a payer signs for `authorization` of `token` on `chain_id`.
pub fn authorization_signing_hash(
    domain: &TokenDomain,
    chain_id: u64,
    token: Address,
    authorization: &Authorization,
) -> B256 {
    let domain = Eip712Domain::new(
        Some(domain.name.clone().into()),
        Some(domain.version.clone().into()),
        Some(U256::from(chain_id)),
        Some(token),
        None,
    );
    TransferWithAuthorization {
        from: authorization.from,
        to: authorization.to,
        value: authorization.value,
        validAfter: authorization.valid_after,
        validBefore: authorization.valid_before,
        nonce: authorization.nonce,
    }
    .eip712_signing_hash(&domain)
}

/// A Permit2 witness transfer as the payer signs it: one `(token, amount)`
/// per transfer (the batch form when there is more than one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit2Transfer {
    /// `(token, maximum amount)` per transfer, primary first.
    pub permitted: Vec<(Address, U256)>,
    /// Who may submit it (`msg.sender` of the Permit2 call).
    pub spender: Address,
    /// The Permit2 nonce (a bit of the owner's nonce bitmap).
    pub nonce: U256,
    /// Unix time after which Permit2 refuses it.
    pub deadline: U256,
    /// The challenge hash.
    pub challenge_hash: B256,
    /// The request's `externalId`, `""` when it has none.
    pub external_id: String,
}

impl Permit2Transfer {
    /// The witness' struct hash, the `witness` argument of the Permit2 call.
    pub fn witness_hash(&self) -> B256 {
        keccak256(
            (
                keccak256(PAYMENT_WITNESS_TYPE),
                self.challenge_hash,
                keccak256(self.external_id.as_bytes()),
            )
                .abi_encode(),
        )
    }

    /// The digest the owner signs, for Permit2 at `permit2` on `chain_id`.
    pub fn signing_hash(&self, chain_id: u64, permit2: Address) -> B256 {
        let permissions: Vec<B256> = self
            .permitted
            .iter()
            .map(|(token, amount)| {
                keccak256((keccak256(TOKEN_PERMISSIONS_TYPE), *token, *amount).abi_encode())
            })
            .collect();
        let (stub, permitted) = match permissions.as_slice() {
            [single] => (SINGLE_STUB, *single),
            many => (BATCH_STUB, keccak256(many.concat())),
        };
        let type_hash = keccak256(format!("{stub}{PERMIT2_WITNESS_TYPE_STRING}"));
        let struct_hash = keccak256(
            (
                type_hash,
                permitted,
                self.spender,
                self.nonce,
                self.deadline,
                self.witness_hash(),
            )
                .abi_encode(),
        );
        let domain = keccak256(
            (
                keccak256(PERMIT2_DOMAIN_TYPE),
                keccak256("Permit2"),
                U256::from(chain_id),
                permit2,
            )
                .abi_encode(),
        );
        let mut message = [0u8; 66];
        message[..2].copy_from_slice(&[0x19, 0x01]);
        message[2..34].copy_from_slice(domain.as_slice());
        message[34..].copy_from_slice(struct_hash.as_slice());
        keccak256(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The challenge hash is the packed concatenation, as Solidity's
    /// `abi.encodePacked(string, string)`.
    #[test]
    fn the_challenge_hash_is_packed() {
        assert_eq!(challenge_hash("ab", "c"), keccak256("abc"));
    }

    /// The witness type hashes the draft's exact spelling.
    #[test]
    fn the_witness_type_string_is_the_drafts() {
        assert!(PERMIT2_WITNESS_TYPE_STRING.contains("bytes32 challengeHash, string externalId"));
        let transfer = Permit2Transfer {
            permitted: vec![(Address::ZERO, U256::from(1))],
            spender: Address::ZERO,
            nonce: U256::ZERO,
            deadline: U256::ZERO,
            challenge_hash: B256::ZERO,
            external_id: String::new(),
        };
        let batch = Permit2Transfer {
            permitted: vec![(Address::ZERO, U256::from(1)); 2],
            ..transfer.clone()
        };
        assert_ne!(
            transfer.signing_hash(1, PERMIT2_ADDRESS),
            batch.signing_hash(1, PERMIT2_ADDRESS)
        );
    }
}
