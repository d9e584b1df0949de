//! Pull mode: the client signs a Tempo transaction (type `0x76`), the
//! server checks it, co-signs it as fee payer when it sponsors fees, and
//! broadcasts it.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, hex};
use alloy_signer::SignerSync;
use tempo_alloy::primitives::transaction::{AASigned, TEMPO_TX_TYPE_ID, TempoTransaction};

use super::envelope::{self, FEE_PAYER_ENVELOPE_TYPE};
use super::rpc::{Receipt, RpcFault};
use super::sponsor::FeePayer;
use super::{Settle, sponsor, transfer};
use crate::method::{Settlement, VerifyError};

pub(super) async fn verify(ctx: &Settle<'_>) -> Result<Settlement, VerifyError> {
    let (signed, named_sender) = decode(ctx.payload_str("signature")?)?;
    let sender = signed
        .recover_signer()
        .map_err(|_| VerifyError::failed("The transaction's signature does not verify."))?;
    if named_sender.is_some_and(|named| named != sender) {
        return Err(VerifyError::failed(
            "The fee-payer envelope names another sender than the one who signed.",
        ));
    }
    check(ctx, signed.tx(), sender)?;
    let raw = if ctx.request.method_details.fee_payer {
        let fee_payer = ctx.method.fee_payer.as_ref().ok_or_else(|| {
            VerifyError::failed("This server no longer sponsors fees; ask for a new challenge.")
        })?;
        sponsor(ctx, fee_payer, signed, sender).await?
    } else {
        if signed.tx().fee_payer_signature.is_some() {
            return Err(VerifyError::failed(
                "The transaction asks for a fee sponsor; this charge has none.",
            ));
        }
        encode(&signed)
    };
    let hash = alloy_primitives::keccak256(&raw);
    ctx.claim_tx(&hash).await?;
    let receipt = match broadcast(ctx, raw, hash).await {
        Ok(receipt) => receipt,
        Err(error) => {
            // Nothing was mined, or whether it was is unknown: a retry
            // broadcasts the same bytes again, and a transaction can only be
            // mined once.
            ctx.release_tx(&hash).await;
            return Err(error);
        }
    };
    // A node may answer a transaction it already had (a retry of ours, or
    // bytes from the chain presented again after a restart emptied the
    // claims) with its old receipt, even to a sync send: only one mined
    // after this challenge was issued can pay for it.
    if let Err(error) = ctx.check_mined_after_issue(&receipt).await {
        if error.is_unavailable() {
            // Not known yet whether it pays: a retry must be able to ask.
            ctx.release_tx(&hash).await;
        }
        return Err(error);
    }
    // Mined: the transaction cannot be sent again, and what it cost (the
    // sponsor's fee) is spent. A failure now uses the challenge up.
    if !receipt.succeeded() {
        return Err(VerifyError::failed("The transaction reverted.").spends_challenge());
    }
    let transfers = transfer::from_logs(ctx.request.currency, receipt.logs.iter());
    let challenge = &ctx.verification.credential.challenge;
    transfer::check(
        ctx.request,
        &challenge.realm,
        &challenge.id,
        &transfers,
        false,
        Some(sender),
    )
    .map_err(|mismatch| VerifyError::failed(mismatch.detail()).spends_challenge())?;
    Ok(Settlement::new(hash.to_string()))
}

/// Checks what a sponsored transaction may cost the fee payer, then
/// co-signs it.
async fn sponsor(
    ctx: &Settle<'_>,
    fee_payer: &FeePayer,
    signed: AASigned,
    sender: Address,
) -> Result<Bytes, VerifyError> {
    let tx = signed.tx();
    // The checks without I/O first.
    require_expiring_nonce(tx)?;
    sponsor::simulate(&ctx.method.rpc, sender, tx, fee_payer.limits.max_gas).await?;
    fee_payer
        .budget
        .admit(&signed, sender, fee_payer.signer.address())
        .await?;
    co_sign(ctx, fee_payer, signed, sender)
}

/// An expiring nonce bounds how long co-signed bytes stay valid
/// (`valid_before`, checked against the challenge's expiry), so they cannot
/// be held and sent later.
fn require_expiring_nonce(tx: &TempoTransaction) -> Result<(), VerifyError> {
    if tx.is_expiring_nonce_tx() {
        return Ok(());
    }
    Err(VerifyError::failed(
        "A sponsored transaction must use an expiring nonce (nonce key 2^256-1, nonce 0).",
    ))
}

/// The signed transaction, and the sender a fee-payer envelope names.
pub(crate) fn decode(text: &str) -> Result<(AASigned, Option<Address>), VerifyError> {
    let malformed = |detail: &str| VerifyError::malformed(detail.to_owned());
    let hex_text = text
        .strip_prefix("0x")
        .ok_or_else(|| malformed("The transaction is not 0x-prefixed hex."))?;
    let bytes = hex::decode(hex_text).map_err(|_| malformed("The transaction is not hex."))?;
    if bytes.first() == Some(&FEE_PAYER_ENVELOPE_TYPE) {
        let (signed, sender) = envelope::decode(&bytes).map_err(malformed)?;
        return Ok((signed, Some(sender)));
    }
    if bytes.first() != Some(&TEMPO_TX_TYPE_ID) {
        return Err(malformed(
            "The transaction is not a Tempo transaction (type 0x76) or fee-payer envelope (0x78).",
        ));
    }
    let mut rest = bytes.as_slice();
    let signed = AASigned::decode_2718(&mut rest)
        .map_err(|_| malformed("The transaction does not decode."))?;
    if !rest.is_empty() {
        return Err(malformed("The transaction has trailing bytes."));
    }
    Ok((signed, None))
}

/// Everything about the transaction that can be checked without the chain.
pub(super) fn check(
    ctx: &Settle<'_>,
    tx: &TempoTransaction,
    sender: Address,
) -> Result<(), VerifyError> {
    if tx.chain_id != ctx.request.method_details.chain_id {
        return Err(VerifyError::failed(format!(
            "The transaction is for chain {}, the charge for chain {}.",
            tx.chain_id, ctx.request.method_details.chain_id
        )));
    }
    if ctx.payer.is_some_and(|payer| payer != sender) {
        return Err(VerifyError::failed(
            "The transaction was not signed by the credential's source.",
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let expires = ctx
        .verification
        .expires
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // A validity window ending with the challenge: the signed bytes cannot
    // be kept and broadcast later for another challenge.
    let Some(before) = tx.valid_before else {
        return Err(VerifyError::failed(
            "The transaction must carry valid_before, at the latest the challenge's expiry.",
        ));
    };
    if before.get() <= now {
        return Err(VerifyError::expired(
            "The transaction's validity window has closed.",
        ));
    }
    // `valid_before` is exclusive: `expires + 1` still ends the window at
    // the challenge's expiry (the `mpp` crate signs exactly that).
    if before.get() > expires + 1 {
        return Err(VerifyError::failed(
            "The transaction stays valid past the challenge's expiry.",
        ));
    }
    if tx.valid_after.is_some_and(|after| after.get() > now) {
        return Err(VerifyError::failed("The transaction is not valid yet."));
    }
    if !tx.access_list.is_empty() {
        return Err(VerifyError::failed(
            "The transaction carries an access list; a payment makes transfers only.",
        ));
    }
    if tx.key_authorization.is_some() || !tx.tempo_authorization_list.is_empty() {
        return Err(VerifyError::failed(
            "The transaction carries authorizations; a payment makes transfers only.",
        ));
    }
    let mut transfers = Vec::with_capacity(tx.calls.len());
    for call in &tx.calls {
        let decoded = transfer::from_call(
            ctx.request.currency,
            call.to.to().copied(),
            call.value,
            &call.input,
        )
        .ok_or_else(|| {
            VerifyError::failed(
                "The transaction makes calls other than transfers of the charge's currency.",
            )
        })?;
        transfers.push(decoded);
    }
    let challenge = &ctx.verification.credential.challenge;
    transfer::check(
        ctx.request,
        &challenge.realm,
        &challenge.id,
        &transfers,
        true,
        None,
    )
    .map_err(|mismatch| VerifyError::failed(mismatch.detail()))
}

/// Adds the server's fee payer signature, within its limits.
pub(super) fn co_sign(
    ctx: &Settle<'_>,
    fee_payer: &FeePayer,
    signed: AASigned,
    sender: Address,
) -> Result<Bytes, VerifyError> {
    co_sign_with(fee_payer, signed, sender, ctx.request.currency)
}

/// Adds `fee_payer`'s signature to `signed` (from `sender`), fees in its
/// token or else `default_fee_token`, within its limits.
pub(crate) fn co_sign_with(
    fee_payer: &FeePayer,
    signed: AASigned,
    sender: Address,
    default_fee_token: Address,
) -> Result<Bytes, VerifyError> {
    require_expiring_nonce(signed.tx())?;
    let (mut tx, signature, _) = signed.into_parts();
    if tx.fee_payer_signature.is_none() || tx.fee_token.is_some() {
        return Err(VerifyError::failed(
            "A sponsored transaction must leave the fee token empty and the fee payer signature as a placeholder.",
        ));
    }
    let limits = fee_payer.limits;
    if tx.gas_limit > limits.max_gas || tx.max_fee_per_gas > limits.max_fee_per_gas {
        return Err(VerifyError::failed(format!(
            "The transaction's fees exceed what this server sponsors (gas {} of at most {}, fee per gas {} of at most {}).",
            tx.gas_limit, limits.max_gas, tx.max_fee_per_gas, limits.max_fee_per_gas
        )));
    }
    tx.fee_token = Some(fee_payer.fee_token.unwrap_or(default_fee_token));
    let hash = tx.fee_payer_signature_hash(sender);
    let fee_signature = fee_payer.signer.sign_hash_sync(&hash).map_err(|e| {
        VerifyError::unavailable(super::RETRY_AFTER, "The fee payer could not sign.").with_source(e)
    })?;
    tx.fee_payer_signature = Some(fee_signature);
    Ok(encode(&AASigned::new_unhashed(tx, signature)))
}

fn encode(signed: &AASigned) -> Bytes {
    signed.encoded_2718().into()
}

/// Broadcasts and waits for the receipt.
async fn broadcast(ctx: &Settle<'_>, raw: Bytes, hash: B256) -> Result<Receipt, VerifyError> {
    ctx.method
        .rpc
        .broadcast(raw, hash, ctx.method.receipt_timeout)
        .await
        .map_err(refusal)
}

fn refusal(fault: RpcFault) -> VerifyError {
    match fault {
        RpcFault::Refused { message, .. } => {
            VerifyError::failed(format!("The chain refused the transaction: {message}"))
        }
        RpcFault::Unavailable(_) => Settle::unavailable(fault),
    }
}
