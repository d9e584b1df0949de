//! `type="hash"`: the client broadcast an ERC-20 `transfer`; its receipt
//! and `Transfer` log show whether it paid.

use alloy_primitives::B256;

use super::logs;
use super::transaction::tx_key;
use super::verify::{Proof, Settle};
use super::{TX_CLAIM_TTL, unavailable};
use crate::method::{Settlement, VerifyError};

/// The offline half: the payload's transaction hash.
pub(super) fn parse(proof: &Proof<'_>) -> Result<B256, VerifyError> {
    let text = proof.payload_str("hash")?;
    (text.len() == 66)
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| VerifyError::malformed("The payload's hash is not 32 bytes of hex."))
}

/// Claims the hash, then reads its receipt.
pub(super) async fn settle(ctx: &Settle<'_>, hash: B256) -> Result<Settlement, VerifyError> {
    let key = tx_key(&hash);
    ctx.claim(&key, TX_CLAIM_TTL).await?;
    match check(ctx, hash).await {
        Ok(settlement) => Ok(settlement),
        Err(error) => {
            // It did not pay this charge: it stays usable for the one it
            // was made for.
            ctx.release(&key).await;
            Err(error)
        }
    }
}

async fn check(ctx: &Settle<'_>, hash: B256) -> Result<Settlement, VerifyError> {
    let receipt = match ctx.method.rpc.receipt(hash).await {
        Ok(Some(receipt)) if receipt.transaction_hash == hash => receipt,
        Ok(Some(_)) => {
            return Err(unavailable(crate::chain::rpc::RpcFault::Unavailable(
                "a receipt for another transaction".to_owned(),
            )));
        }
        Ok(None) => {
            return Err(VerifyError::failed(
                "No transaction with this hash is on chain (yet).",
            ));
        }
        Err(fault) => return Err(unavailable(fault)),
    };
    if !receipt.succeeded() {
        return Err(VerifyError::failed("The transaction reverted."));
    }
    ctx.check_mined_after_issue(&receipt).await?;
    let paid = logs::pays(
        &logs::transfers(&receipt.logs, ctx.request.currency),
        ctx.request.recipient,
        ctx.request.amount,
    );
    match paid {
        Some(transfer) if ctx.payer.is_none_or(|payer| payer == transfer.from) => {
            Ok(ctx.settlement(hash))
        }
        Some(_) => Err(VerifyError::failed(
            "The transfer is not from the credential's source.",
        )),
        None => Err(VerifyError::failed(
            "The transaction does not transfer the charge's amount of its token to its recipient.",
        )),
    }
}
