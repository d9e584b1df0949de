//! What `benches/evm.rs` measures, reached from outside the crate: hidden
//! from the docs and not part of the API (no semver promise).

use alloy_primitives::{Address, B256, Signature};

use super::EvmCharge;
use super::verify::{Proof, read_request};
use crate::method::VerifyError;
use crate::protocol::Credential;

/// The offline half of [`EvmCharge`]'s verification, exactly as `verify`
/// runs it before its first store or chain call: the challenge's request
/// read, the credential's source and type, and every check of its type
/// (signature recovery, EIP-712 digests, ABI decoding and encoding).
/// `durable_claims` stands for the claim store's durability.
///
/// # Errors
///
/// The [`VerifyError`] `verify` would answer with.
pub fn check_offline(
    method: &EvmCharge,
    credential: &Credential,
    durable_claims: bool,
) -> Result<(), VerifyError> {
    let request = read_request(&credential.challenge.request)?;
    let proof = Proof::read(&method.inner, credential, &request, durable_claims)?;
    // Kept whole, so that nothing of the work is optimized away.
    std::hint::black_box(proof.check()?);
    Ok(())
}

/// The signature recovery the checks use (libsecp256k1).
pub fn recover(signature: &Signature, digest: &B256) -> Option<Address> {
    crate::chain::signature::recover(signature, digest)
}
