//! Recovering the signer of a 32-byte digest, with libsecp256k1 (about
//! five times faster than k256 here).

use alloy_primitives::{Address, B256, Signature};

/// The address that signed `hash`, with libsecp256k1.
///
/// Accepts what alloy's `recover_address_from_prehash` accepts: a high `s`
/// is first folded into the low half with the parity flipped (the same
/// signer), as Ethereum's `ecrecover` does. Reuse is prevented by
/// single-use claims, never by a signature's encoding.
pub(crate) fn recover(signature: &Signature, hash: &B256) -> Option<Address> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

    let signature = signature.normalized_s();
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let parity = if signature.v() {
        RecoveryId::One
    } else {
        RecoveryId::Zero
    };
    let signature = RecoverableSignature::from_compact(&compact, parity).ok()?;
    let key = secp256k1::SECP256K1
        .recover_ecdsa(&secp256k1::Message::from_digest(hash.0), &signature)
        .ok()?;
    Some(Address::from_raw_public_key(
        &key.serialize_uncompressed()[1..],
    ))
}
