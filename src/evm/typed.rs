//! The digests EVM charge credentials sign (EIP-712), and the challenge
//! hash that binds them to one challenge. Clients and servers share them.

use alloy_primitives::{Address, B256, Keccak256, U256, b256, keccak256};

/// Permit2's canonical address on every chain.
pub const PERMIT2_ADDRESS: Address =
    alloy_primitives::address!("000000000022D473030F116dDEE9F6B43aC78BA3");

/// The witness type string the draft fixes (its spelling, a space after
/// the comma included, is what Permit2 hashes).
pub const PERMIT2_WITNESS_TYPE_STRING: &str = "PaymentWitness witness)PaymentWitness(bytes32 challengeHash, string externalId)TokenPermissions(address token,uint256 amount)";

// The type hashes, constant: `keccak256` of the type strings (the tests
// check each against its string).
/// `PaymentWitness(bytes32 challengeHash, string externalId)`.
const PAYMENT_WITNESS_TYPE_HASH: B256 =
    b256!("e3b1f171490aceafafe7bbe5355fc9dffa6b7677563f496ae0fed59439b8a373");
/// `TokenPermissions(address token,uint256 amount)`.
const TOKEN_PERMISSIONS_TYPE_HASH: B256 =
    b256!("618358ac3db8dc274f0cd8829da7e234bd48cd73c4a740aede1adec9846d06a1");
/// `PermitWitnessTransferFrom(...,PaymentWitness witness)` and the
/// witness type string.
const SINGLE_TYPE_HASH: B256 =
    b256!("f7aec95a3f477515b4f533a35d81e9e2ca9c940b0f46ac5f81b25e1155558c37");
/// `PermitBatchWitnessTransferFrom(...,PaymentWitness witness)` and the
/// witness type string.
const BATCH_TYPE_HASH: B256 =
    b256!("9da8f39d04da1a1a8a11859f323ca47ef2be0e02a42ba0c04e5058c0ae9e9a85");
/// `EIP712Domain(string name,uint256 chainId,address verifyingContract)`.
const PERMIT2_DOMAIN_TYPE_HASH: B256 =
    b256!("8cad95687ba82c2ce50e74f7b754645e5117c3a5bec8151c0726d5857980a866");
/// `keccak256("Permit2")`, the domain's name.
const PERMIT2_NAME_HASH: B256 =
    b256!("9ac997416e8ff9d2ff6bebeb7149f65cdae5e32e2b90440b566bb3044041d36a");
/// `keccak256("")`: a witness without `externalId`.
const EMPTY_HASH: B256 = b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
/// EIP-3009's `TransferWithAuthorization(address from,address to,uint256
/// value,uint256 validAfter,uint256 validBefore,bytes32 nonce)`.
const TRANSFER_WITH_AUTHORIZATION_TYPE_HASH: B256 =
    b256!("7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267");
/// `EIP712Domain(string name,string version,uint256 chainId,address
/// verifyingContract)`.
const TOKEN_DOMAIN_TYPE_HASH: B256 =
    b256!("8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");

/// `keccak256` of 32-byte words end to end (EIP-712's `encodeData` of
/// static members), without allocating.
fn hash_words(words: &[B256]) -> B256 {
    let mut hasher = Keccak256::new();
    for word in words {
        hasher.update(word);
    }
    hasher.finalize()
}

fn word(value: U256) -> B256 {
    B256::from(value.to_be_bytes::<32>())
}

/// The digest signed under EIP-712: `keccak256(0x1901 ‖ domain ‖ struct)`.
pub(crate) fn eip712_digest(domain_separator: B256, struct_hash: B256) -> B256 {
    let mut message = [0u8; 66];
    message[..2].copy_from_slice(&[0x19, 0x01]);
    message[2..34].copy_from_slice(domain_separator.as_slice());
    message[34..].copy_from_slice(struct_hash.as_slice());
    keccak256(message)
}

fn permit2_domain_separator(chain_id: u64, permit2: Address) -> B256 {
    hash_words(&[
        PERMIT2_DOMAIN_TYPE_HASH,
        PERMIT2_NAME_HASH,
        word(U256::from(chain_id)),
        permit2.into_word(),
    ])
}

fn token_domain_separator(domain: &TokenDomain, chain_id: u64, token: Address) -> B256 {
    hash_words(&[
        TOKEN_DOMAIN_TYPE_HASH,
        keccak256(domain.name.as_bytes()),
        keccak256(domain.version.as_bytes()),
        word(U256::from(chain_id)),
        token.into_word(),
    ])
}

/// The EIP-712 domain separators of one [`EvmCharge`](super::EvmCharge),
/// computed once for its chain, Permit2 and token: a request naming others
/// (one issued before a reconfiguration) gets its own computed.
#[derive(Debug, Clone)]
pub(crate) struct Separators {
    chain_id: u64,
    permit2: (Address, B256),
    token: Option<(Address, B256)>,
}

impl Separators {
    pub(crate) fn new(
        chain_id: u64,
        permit2: Address,
        token: Address,
        domain: Option<&TokenDomain>,
    ) -> Self {
        Self {
            chain_id,
            permit2: (permit2, permit2_domain_separator(chain_id, permit2)),
            token: domain.map(|d| (token, token_domain_separator(d, chain_id, token))),
        }
    }

    /// Permit2's at `permit2` on `chain_id`.
    pub(crate) fn permit2(&self, chain_id: u64, permit2: Address) -> B256 {
        match self.permit2 {
            (address, separator) if chain_id == self.chain_id && address == permit2 => separator,
            _ => permit2_domain_separator(chain_id, permit2),
        }
    }

    /// `token`'s, with `domain` (the one these were made with), on
    /// `chain_id`.
    pub(crate) fn token(&self, domain: &TokenDomain, chain_id: u64, token: Address) -> B256 {
        match self.token {
            Some((address, separator)) if chain_id == self.chain_id && address == token => {
                separator
            }
            _ => token_domain_separator(domain, chain_id, token),
        }
    }
}

/// `keccak256(abi.encodePacked(id, realm))`: what a `permit2` witness and an
/// `authorization` nonce carry to name their challenge.
pub fn challenge_hash(id: &str, realm: &str) -> B256 {
    let mut hasher = Keccak256::new();
    hasher.update(id.as_bytes());
    hasher.update(realm.as_bytes());
    hasher.finalize()
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
    eip712_digest(
        token_domain_separator(domain, chain_id, token),
        authorization.struct_hash(),
    )
}

impl Authorization {
    /// The EIP-712 struct hash of `TransferWithAuthorization`.
    pub(crate) fn struct_hash(&self) -> B256 {
        hash_words(&[
            TRANSFER_WITH_AUTHORIZATION_TYPE_HASH,
            self.from.into_word(),
            self.to.into_word(),
            word(self.value),
            word(self.valid_after),
            word(self.valid_before),
            self.nonce,
        ])
    }
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
        let external_id = if self.external_id.is_empty() {
            EMPTY_HASH
        } else {
            keccak256(self.external_id.as_bytes())
        };
        hash_words(&[PAYMENT_WITNESS_TYPE_HASH, self.challenge_hash, external_id])
    }

    /// The digest the owner signs, for Permit2 at `permit2` on `chain_id`.
    pub fn signing_hash(&self, chain_id: u64, permit2: Address) -> B256 {
        eip712_digest(
            permit2_domain_separator(chain_id, permit2),
            self.struct_hash(self.witness_hash()),
        )
    }

    /// The struct hash of the permit, with its witness' hash.
    pub(crate) fn struct_hash(&self, witness: B256) -> B256 {
        let permission = |(token, amount): &(Address, U256)| {
            hash_words(&[
                TOKEN_PERMISSIONS_TYPE_HASH,
                token.into_word(),
                word(*amount),
            ])
        };
        let (type_hash, permitted) = match self.permitted.as_slice() {
            [single] => (SINGLE_TYPE_HASH, permission(single)),
            many => {
                let hashes: Vec<B256> = many.iter().map(permission).collect();
                (BATCH_TYPE_HASH, hash_words(&hashes))
            }
        };
        hash_words(&[
            type_hash,
            permitted,
            self.spender.into_word(),
            word(self.nonce),
            word(self.deadline),
            witness,
        ])
    }
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;
