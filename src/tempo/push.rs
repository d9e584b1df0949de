//! Push mode: the client broadcast the transaction and sends its hash; one
//! `eth_getTransactionReceipt` shows whether it paid.

use alloy_primitives::B256;

use super::{Settle, transfer};
use crate::method::{Settlement, VerifyError};

pub(super) async fn verify(ctx: &Settle<'_>) -> Result<Settlement, VerifyError> {
    let hash = parse_hash(ctx.payload_str("hash")?)?;
    ctx.claim_tx(&hash).await?;
    match check(ctx, hash).await {
        Ok(settlement) => Ok(settlement),
        Err(error) => {
            // The transaction did not pay this charge: it stays usable for
            // the charge it was made for.
            ctx.release_tx(&hash).await;
            Err(error)
        }
    }
}

async fn check(ctx: &Settle<'_>, hash: B256) -> Result<Settlement, VerifyError> {
    let receipt = match ctx.method.rpc.receipt(hash).await {
        Ok(Some(receipt)) => receipt,
        Ok(None) => {
            return Err(VerifyError::failed(
                "No transaction with this hash is on chain (yet).",
            ));
        }
        Err(fault) => return Err(Settle::unavailable(fault)),
    };
    if receipt.transaction_hash != hash {
        return Err(Settle::unavailable(super::rpc::RpcFault::Unavailable(
            "a receipt for another transaction".to_owned(),
        )));
    }
    if !receipt.succeeded() {
        return Err(VerifyError::failed("The transaction reverted."));
    }
    if ctx.payer.is_some_and(|payer| payer != receipt.from) {
        return Err(VerifyError::failed(
            "The transaction was not sent by the credential's source.",
        ));
    }
    let transfers = transfer::from_logs(ctx.request.currency, receipt.logs.iter());
    let challenge = &ctx.verification.credential.challenge;
    transfer::check(
        ctx.request,
        &challenge.realm,
        &challenge.id,
        &transfers,
        false,
        Some(receipt.from),
    )
    .map_err(|mismatch| VerifyError::failed(mismatch.detail()))?;
    Ok(Settlement::new(hash.to_string()))
}

/// A `0x`-prefixed 32-byte hex hash.
pub(super) fn parse_hash(text: &str) -> Result<B256, VerifyError> {
    let malformed = || VerifyError::malformed("The hash is not 32 bytes of 0x-prefixed hex.");
    let hex = text.strip_prefix("0x").ok_or_else(malformed)?;
    if hex.len() != 64 {
        return Err(malformed());
    }
    text.parse().map_err(|_| malformed())
}
