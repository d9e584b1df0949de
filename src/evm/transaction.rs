//! `type="transaction"`: a signed EIP-1559 ERC-20 `transfer` the server
//! checks and broadcasts; the client pays the gas.

use alloy_consensus::crypto::SECP256K1N_HALF;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes};
use alloy_sol_types::{SolCall, sol};

use super::logs;
use super::verify::{Proof, Settle};
use super::{TX_CLAIM_TTL, unavailable};
use crate::chain::signature::recover;
use crate::method::{Settlement, VerifyError};

sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

/// A checked transaction, ready to broadcast.
#[derive(Debug)]
pub(super) struct Checked {
    raw: Bytes,
    hash: B256,
    from: Address,
}

/// Claims the transaction, broadcasts it and reads its transfer.
pub(super) async fn settle(ctx: &Settle<'_>, checked: Checked) -> Result<Settlement, VerifyError> {
    let key = tx_key(&checked.hash);
    ctx.claim(&key, TX_CLAIM_TTL).await?;
    let receipt = match ctx
        .method
        .rpc
        .broadcast(
            checked.raw.clone(),
            checked.hash,
            ctx.method.receipt_timeout,
        )
        .await
    {
        Ok(receipt) => receipt,
        Err(fault) if fault.is_refused() => {
            // The node would not take it (no funds for gas, a bad nonce):
            // it never ran, and stays the client's to retry.
            ctx.release(&key).await;
            return Err(VerifyError::failed(format!(
                "The node refused the transaction: {fault}"
            )));
        }
        Err(fault) => return Err(unavailable(fault)),
    };
    ctx.check_mined_after_issue(&receipt).await?;
    let paid = logs::pays(
        &logs::transfers(&receipt.logs, ctx.request.currency),
        ctx.request.recipient,
        ctx.request.amount,
    );
    if !receipt.succeeded() || paid.is_none_or(|t| t.from != checked.from) {
        return Err(VerifyError::failed("The transfer failed on chain."));
    }
    Ok(ctx.settlement(checked.hash))
}

/// The draft's checks before broadcasting: an EIP-1559 transaction on this
/// chain calling `transfer(recipient, amount)` on the token.
pub(super) fn check(ctx: &Proof<'_>) -> Result<Checked, VerifyError> {
    let text = ctx.payload_str("signature")?;
    let raw: Bytes = text
        .parse()
        .map_err(|_| VerifyError::malformed("The payload's signature is not hex."))?;
    let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
        .map_err(|e| VerifyError::malformed("The transaction does not decode.").with_source(e))?;
    let TxEnvelope::Eip1559(signed) = &envelope else {
        return Err(VerifyError::malformed(
            "The transaction is not an EIP-1559 (type 2) transaction.",
        ));
    };
    let tx = signed.tx();
    if tx.chain_id != ctx.request.method_details.chain_id {
        return Err(VerifyError::failed("The transaction is for another chain."));
    }
    if tx.to() != Some(ctx.request.currency) {
        return Err(VerifyError::failed(
            "The transaction does not call the charge's token.",
        ));
    }
    if !tx.value.is_zero() {
        return Err(VerifyError::failed(
            "The transaction sends the native coin.",
        ));
    }
    let call = transferCall::abi_decode(tx.input()).map_err(|_| {
        VerifyError::failed("The transaction does not call transfer(address,uint256).")
    })?;
    if call.to != ctx.request.recipient {
        return Err(VerifyError::failed("The transfer pays another recipient."));
    }
    if call.amount != ctx.request.amount {
        return Err(VerifyError::insufficient(
            "The transfer's amount is not the charge's amount.",
        ));
    }
    // As `recover_signer` (EIP-2: a high `s` is refused), with the faster
    // libsecp256k1.
    let signature = signed.signature();
    let from = (signature.s() <= SECP256K1N_HALF)
        .then(|| recover(signature, &signed.signature_hash()))
        .flatten()
        .ok_or_else(|| VerifyError::failed("The transaction's signature does not recover."))?;
    if ctx.payer.is_some_and(|payer| payer != from) {
        return Err(VerifyError::failed(
            "The credential's source did not sign the transaction.",
        ));
    }
    Ok(Checked {
        hash: *envelope.tx_hash(),
        raw,
        from,
    })
}

pub(super) fn tx_key(hash: &B256) -> String {
    format!("evm:tx:{hash}")
}
