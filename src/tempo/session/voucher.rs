//! Vouchers: EIP-712 `Voucher(bytes32 channelId,uint128 cumulativeAmount)`
//! in the domain `{name: "Tempo Stream Channel", version: "1", chainId,
//! verifyingContract: escrow}`.

use std::fmt;

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};

/// The EIP-712 domain name of v1 vouchers.
pub const VOUCHER_DOMAIN_NAME: &str = "Tempo Stream Channel";
/// The EIP-712 domain version of v1 vouchers.
pub const VOUCHER_DOMAIN_VERSION: &str = "1";

/// Half the secp256k1 group order: a canonical signature's `s` is at most
/// this.
const HALF_ORDER: U256 = U256::from_be_bytes([
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

sol! {
    /// The signed message of a voucher.
    struct Voucher {
        bytes32 channelId;
        uint128 cumulativeAmount;
    }
}

/// The hash a payer signs to authorize `cumulative_amount` base units in
/// all on `channel_id` (what the escrow's `getVoucherDigest` returns).
pub fn voucher_signing_hash(
    chain_id: u64,
    escrow: Address,
    channel_id: B256,
    cumulative_amount: u128,
) -> B256 {
    let domain = Eip712Domain {
        name: Some(VOUCHER_DOMAIN_NAME.into()),
        version: Some(VOUCHER_DOMAIN_VERSION.into()),
        chain_id: Some(U256::from(chain_id)),
        verifying_contract: Some(escrow),
        salt: None,
    };
    Voucher {
        channelId: channel_id,
        cumulativeAmount: cumulative_amount,
    }
    .eip712_signing_hash(&domain)
}

/// The voucher hash of one escrow on one chain, with the parts that do not
/// change from voucher to voucher (the domain separator, the type hash)
/// computed once: two Keccak-256 per voucher instead of seven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoucherHasher {
    separator: B256,
    type_hash: B256,
}

impl VoucherHasher {
    /// The hasher of vouchers for `escrow` on `chain_id`.
    pub fn new(chain_id: u64, escrow: Address) -> Self {
        let domain = Eip712Domain {
            name: Some(VOUCHER_DOMAIN_NAME.into()),
            version: Some(VOUCHER_DOMAIN_VERSION.into()),
            chain_id: Some(U256::from(chain_id)),
            verifying_contract: Some(escrow),
            salt: None,
        };
        let probe = Voucher {
            channelId: B256::ZERO,
            cumulativeAmount: 0,
        };
        Self {
            separator: domain.separator(),
            type_hash: probe.eip712_type_hash(),
        }
    }

    /// What [`voucher_signing_hash`] returns for this escrow and chain.
    pub fn hash(&self, channel_id: B256, cumulative_amount: u128) -> B256 {
        let mut fields = [0u8; 96];
        fields[..32].copy_from_slice(self.type_hash.as_slice());
        fields[32..64].copy_from_slice(channel_id.as_slice());
        fields[80..].copy_from_slice(&cumulative_amount.to_be_bytes());
        let struct_hash = keccak256(fields);
        let mut message = [0u8; 66];
        message[..2].copy_from_slice(&[0x19, 0x01]);
        message[2..34].copy_from_slice(self.separator.as_slice());
        message[34..].copy_from_slice(struct_hash.as_slice());
        keccak256(message)
    }
}

/// Why a voucher signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VoucherSignatureError {
    /// Not 65 bytes (`r || s || v`) nor 64 (EIP-2098 compact).
    Length(usize),
    /// `v` is not 27, 28, 0 or 1.
    RecoveryId(u8),
    /// `s` is in the upper half of the group order: the malleable twin of
    /// a canonical signature, which the spec requires servers to refuse.
    HighS,
    /// No key signed this hash with this signature.
    Unrecoverable,
}

impl fmt::Display for VoucherSignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "a voucher signature is 65 or 64 bytes, not {n}"),
            Self::RecoveryId(v) => write!(f, "a voucher signature's v is 27 or 28, not {v}"),
            Self::HighS => f.write_str("the voucher signature is not canonical (high s)"),
            Self::Unrecoverable => f.write_str("the voucher signature does not verify"),
        }
    }
}

impl std::error::Error for VoucherSignatureError {}

/// The address that signed `hash` with `signature`: 65 bytes `r || s || v`
/// (`v` 27 or 28, or 0 or 1) or 64 bytes EIP-2098 `r || yParityAndS`.
/// High-`s` signatures are refused, not normalized.
///
/// # Errors
///
/// [`VoucherSignatureError`] for a malformed, non-canonical or
/// unrecoverable signature.
pub fn recover_voucher_signer(
    signature: &[u8],
    hash: &B256,
) -> Result<Address, VoucherSignatureError> {
    let (r, s, parity) = match signature.len() {
        65 => {
            let parity = match signature[64] {
                27 | 0 => false,
                28 | 1 => true,
                v => return Err(VoucherSignatureError::RecoveryId(v)),
            };
            (
                U256::from_be_slice(&signature[..32]),
                U256::from_be_slice(&signature[32..64]),
                parity,
            )
        }
        64 => {
            let vs = U256::from_be_slice(&signature[32..]);
            let parity = vs.bit(255);
            (
                U256::from_be_slice(&signature[..32]),
                vs & (U256::MAX >> 1),
                parity,
            )
        }
        n => return Err(VoucherSignatureError::Length(n)),
    };
    if s > HALF_ORDER {
        return Err(VoucherSignatureError::HighS);
    }
    crate::tempo::proof::recover(&Signature::new(r, s, parity), hash)
        .ok_or(VoucherSignatureError::Unrecoverable)
}

#[cfg(test)]
mod tests {
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    #[test]
    fn the_cached_hasher_agrees_with_the_eip712_hash() {
        let escrow = Address::repeat_byte(0xe5);
        let hasher = VoucherHasher::new(4217, escrow);
        for (id, amount) in [
            (B256::ZERO, 0),
            (B256::repeat_byte(7), 1_000),
            (B256::repeat_byte(0xff), u128::MAX),
        ] {
            assert_eq!(
                hasher.hash(id, amount),
                voucher_signing_hash(4217, escrow, id, amount)
            );
        }
        assert_ne!(
            VoucherHasher::new(1, escrow).hash(B256::ZERO, 1),
            hasher.hash(B256::ZERO, 1)
        );
    }

    #[test]
    fn vouchers_recover_their_signer_and_refuse_the_malleable_twin() {
        let signer = PrivateKeySigner::random();
        let escrow = Address::repeat_byte(0xe5);
        let hash = voucher_signing_hash(1337, escrow, B256::repeat_byte(7), 5_000);
        let signature = signer.sign_hash_sync(&hash).unwrap();
        let bytes = signature.as_bytes();
        assert_eq!(recover_voucher_signer(&bytes, &hash), Ok(signer.address()));

        // EIP-2098: the parity in the top bit of s.
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(&bytes[..32]);
        let mut vs = signature.s();
        if signature.v() {
            vs |= U256::from(1) << 255;
        }
        compact[32..].copy_from_slice(&vs.to_be_bytes::<32>());
        assert_eq!(
            recover_voucher_signer(&compact, &hash),
            Ok(signer.address())
        );

        // (r, n - s) with the parity flipped: the same signer to ecrecover,
        // refused here.
        let order = HALF_ORDER * U256::from(2) + U256::from(1);
        let mut twin = bytes;
        twin[32..64].copy_from_slice(&(order - signature.s()).to_be_bytes::<32>());
        twin[64] = if signature.v() { 27 } else { 28 };
        assert_eq!(
            recover_voucher_signer(&twin, &hash),
            Err(VoucherSignatureError::HighS)
        );

        // Another amount, another hash: another (or no) signer.
        let other = voucher_signing_hash(1337, escrow, B256::repeat_byte(7), 5_001);
        assert_ne!(recover_voucher_signer(&bytes, &other), Ok(signer.address()));
        assert_eq!(
            recover_voucher_signer(&bytes[..10], &hash),
            Err(VoucherSignatureError::Length(10))
        );
        let mut bad_v = bytes;
        bad_v[64] = 29;
        assert_eq!(
            recover_voucher_signer(&bad_v, &hash),
            Err(VoucherSignatureError::RecoveryId(29))
        );
    }

    #[test]
    fn the_domain_and_type_are_the_specs() {
        // keccak256("Voucher(bytes32 channelId,uint128 cumulativeAmount)")
        assert_eq!(
            Voucher {
                channelId: B256::ZERO,
                cumulativeAmount: 0
            }
            .eip712_type_hash(),
            alloy_primitives::keccak256("Voucher(bytes32 channelId,uint128 cumulativeAmount)")
        );
    }
}
