//! Proof credentials: a zero-amount charge is paid by signing the
//! challenge with EIP-712.
//!
//! `draft-tempo-charge-00` describes domain `{name: "MPP", version: "1",
//! chainId}` and `Proof(string challengeId)`. The deployed SDKs (mppx,
//! the `mpp` crate, pympp) sign domain `{name: "MPP", version: "3",
//! chainId}` and `Proof(address account,string challengeId,string realm)`,
//! which also binds the signer and the server. This server verifies what
//! the SDKs sign, so their clients can pay it.

use alloy_primitives::{Address, B256, Signature, U256};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};

use super::{Settle, source};
use crate::method::{Settlement, VerifyError};

/// The EIP-712 domain name of proofs.
pub const PROOF_DOMAIN_NAME: &str = "MPP";
/// The EIP-712 domain version of proofs, as the deployed SDKs sign them.
pub const PROOF_DOMAIN_VERSION: &str = "3";

sol! {
    /// The signed message of a proof credential.
    struct Proof {
        address account;
        string challengeId;
        string realm;
    }
}

/// The EIP-712 hash a proof credential signs: `account` proves it was
/// offered challenge `challenge_id` by `realm` on `chain_id`.
pub fn proof_signing_hash(
    chain_id: u64,
    account: Address,
    challenge_id: &str,
    realm: &str,
) -> B256 {
    let domain = Eip712Domain {
        name: Some(PROOF_DOMAIN_NAME.into()),
        version: Some(PROOF_DOMAIN_VERSION.into()),
        chain_id: Some(U256::from(chain_id)),
        verifying_contract: None,
        salt: None,
    };
    Proof {
        account,
        challengeId: challenge_id.to_owned(),
        realm: realm.to_owned(),
    }
    .eip712_signing_hash(&domain)
}

pub(super) fn verify(ctx: &Settle<'_>) -> Result<Settlement, VerifyError> {
    let Some(account) = ctx.payer else {
        return Err(VerifyError::malformed(
            "A proof credential needs a did:pkh:eip155 source naming the signer.",
        ));
    };
    let signature: Signature = ctx.payload_str("signature")?.parse().map_err(|_| {
        VerifyError::malformed("The proof signature is not a 65-byte hex signature.")
    })?;
    let challenge = &ctx.verification.credential.challenge;
    let chain_id = ctx.request.method_details.chain_id;
    let hash = proof_signing_hash(chain_id, account, &challenge.id, &challenge.realm);
    let signer = recover(&signature, &hash)
        .ok_or_else(|| VerifyError::failed("The proof signature does not verify."))?;
    if signer != account {
        return Err(VerifyError::failed(format!(
            "The proof was not signed by {}.",
            source::did_pkh(chain_id, account)
        )));
    }
    // A proof answers one challenge, and the registry claims each
    // challenge once before any method runs: no claim of its own is needed.
    Ok(Settlement::new(challenge.id.clone()))
}

pub(crate) use crate::chain::signature::recover;

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    /// The digest `eth_account` computes for the SDKs' proof typed data.
    #[test]
    fn the_digest_matches_the_sdks() {
        let hash = proof_signing_hash(
            42431,
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            "challenge-123",
            "api.example.com",
        );
        assert_eq!(
            hash.to_string(),
            "0x5dab55b88af34d4c95378108231030a2c07f9b442a79e98408e40ffb94d95049"
        );
    }

    /// libsecp256k1 recovers what k256 (alloy's default) recovers, and
    /// refuses what it refuses, on valid, malleated and broken signatures.
    #[test]
    fn recovery_agrees_with_k256() {
        use alloy_signer::SignerSync as _;
        use alloy_signer_local::PrivateKeySigner;

        const ORDER: U256 = alloy_primitives::uint!(
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256
        );
        let k256 =
            |signature: &Signature, hash: &B256| signature.recover_address_from_prehash(hash).ok();
        for seed in 1u8..=24 {
            let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).unwrap();
            let hash = proof_signing_hash(4217, signer.address(), &format!("id-{seed}"), "r");
            let signature = signer.sign_hash_sync(&hash).unwrap();
            assert_eq!(recover(&signature, &hash), Some(signer.address()));
            // The same signature with `s` in the high half: the same signer.
            let high = Signature::new(signature.r(), ORDER - signature.s(), !signature.v());
            assert_eq!(recover(&high, &hash), Some(signer.address()));
            let cases = [
                high,
                Signature::new(signature.r(), signature.s(), !signature.v()),
                Signature::new(U256::ZERO, signature.s(), signature.v()),
                Signature::new(signature.r(), U256::ZERO, signature.v()),
                Signature::new(ORDER, signature.s(), signature.v()),
                Signature::new(U256::MAX, signature.s(), signature.v()),
                Signature::new(signature.r(), ORDER, signature.v()),
            ];
            for case in &cases {
                assert_eq!(recover(case, &hash), k256(case, &hash), "{case:?}");
            }
            let other = B256::repeat_byte(seed.wrapping_add(100));
            assert_eq!(recover(&signature, &other), k256(&signature, &other));
            assert_ne!(recover(&signature, &other), Some(signer.address()));
        }
    }
}
