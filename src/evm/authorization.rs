//! `type="authorization"`: an EIP-3009 `transferWithAuthorization` the
//! payer signed, whose nonce is the challenge hash; the server submits it
//! to the token and pays the gas.

use alloy_primitives::{B256, Bytes, Signature, U256};
use alloy_sol_types::{SolCall, sol};

use super::logs::{self, Transfer};
use super::submission;
use super::typed::{Authorization, eip712_digest};
use super::verify::{Proof, Settle};
use super::{CLAIM_MARGIN, parse_address, parse_uint, unix};
use crate::chain::signature::recover;
use crate::method::{Settlement, VerifyError};

sol! {
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    );
}

/// A checked authorization, ready to submit.
#[derive(Debug)]
pub(super) struct Checked {
    authorization: Authorization,
    signature: Signature,
}

/// An authorization checked offline, ready to submit.
pub(super) type Ready<'a> = submission::Ready<'a, Checked>;

/// The offline half: the token's domain and the gas key, every check, the
/// call.
pub(super) fn prepare<'a>(proof: &Proof<'a>) -> Result<Ready<'a>, VerifyError> {
    let (Some(domain), Some(gas)) = (&proof.method.token_domain, &proof.method.gas_payer) else {
        return Err(VerifyError::failed(
            "This server does not accept authorization credentials for this token.",
        ));
    };
    let checked = check(proof, domain)?;
    let calldata = calldata(&checked);
    Ok(Ready {
        gas,
        checked,
        calldata,
    })
}

/// Claims the authorization's nonce, submits it and reads its transfer.
pub(super) async fn settle(ctx: &Settle<'_>, ready: Ready<'_>) -> Result<Settlement, VerifyError> {
    let Ready {
        gas,
        checked,
        calldata,
    } = ready;
    let from = checked.authorization.from;
    let key = format!(
        "evm:authorization:{}:{}:{from}:{}",
        ctx.request.method_details.chain_id, ctx.request.currency, checked.authorization.nonce
    );
    let ttl = ctx.until_expiry() + CLAIM_MARGIN;
    let submitted =
        submission::submit_once(ctx, gas, &key, ttl, ctx.request.currency, calldata).await?;
    let receipt = submission::receipt(ctx, &submitted).await?;
    let expected = Transfer {
        from,
        to: checked.authorization.to,
        value: checked.authorization.value,
    };
    if !receipt.succeeded()
        || !logs::contains_all(
            &logs::transfers(&receipt.logs, ctx.request.currency),
            &[expected],
        )
    {
        return Err(
            VerifyError::failed("The authorized transfer failed on chain.").spends_challenge(),
        );
    }
    Ok(ctx.settlement(submitted.hash))
}

/// Every offline check of the draft's authorization verification: the
/// signer, recipient, amount, nonce (the challenge hash) and validity.
fn check(ctx: &Proof<'_>, domain: &super::TokenDomain) -> Result<Checked, VerifyError> {
    let from = parse_address("from", ctx.payload_str("from")?)?;
    let to = parse_address("to", ctx.payload_str("to")?)?;
    let value = parse_uint("value", ctx.payload_str("value")?)?;
    let valid_after = parse_uint("validAfter", ctx.payload_str("validAfter")?)?;
    let valid_before = parse_uint("validBefore", ctx.payload_str("validBefore")?)?;
    let nonce: B256 = ctx
        .payload_str("nonce")?
        .parse()
        .map_err(|_| VerifyError::malformed("The payload's nonce is not 32 bytes of hex."))?;
    let signature: Signature = ctx
        .payload_str("signature")?
        .parse()
        .map_err(|_| VerifyError::malformed("The payload's signature is not a signature."))?;
    if to != ctx.request.recipient {
        return Err(VerifyError::failed(
            "The authorization pays another recipient.",
        ));
    }
    if value != ctx.request.amount {
        return Err(VerifyError::insufficient(
            "The authorization's value is not the charge's amount.",
        ));
    }
    if nonce != ctx.challenge_hash() {
        return Err(VerifyError::failed(
            "The authorization's nonce is not this challenge's hash.",
        ));
    }
    let now = U256::from(unix(std::time::SystemTime::now()));
    if valid_before <= now {
        return Err(VerifyError::expired("The authorization has expired."));
    }
    if valid_after >= now {
        return Err(VerifyError::failed("The authorization is not valid yet."));
    }
    if ctx.payer.is_some_and(|payer| payer != from) {
        return Err(VerifyError::failed(
            "The credential's source is not the authorization's signer.",
        ));
    }
    let authorization = Authorization {
        from,
        to,
        value,
        valid_after,
        valid_before,
        nonce,
    };
    let separator = ctx.method.separators.token(
        domain,
        ctx.request.method_details.chain_id,
        ctx.request.currency,
    );
    let digest = eip712_digest(separator, authorization.struct_hash());
    if recover(&signature, &digest) != Some(from) {
        return Err(VerifyError::failed(
            "The authorization's signature is not from its payer.",
        ));
    }
    Ok(Checked {
        authorization,
        signature,
    })
}

/// The token call that settles `checked`.
fn calldata(checked: &Checked) -> Bytes {
    let a = &checked.authorization;
    // Tokens refuse the malleable twin (a high `s`): send the low one.
    let s = &checked.signature.normalized_s();
    transferWithAuthorizationCall {
        from: a.from,
        to: a.to,
        value: a.value,
        validAfter: a.valid_after,
        validBefore: a.valid_before,
        nonce: a.nonce,
        v: 27 + u8::from(s.v()),
        r: s.r().into(),
        s: s.s().into(),
    }
    .abi_encode()
    .into()
}
