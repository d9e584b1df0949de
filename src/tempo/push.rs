//! Push mode: the client broadcast the transaction and sends its hash; one
//! `eth_getTransactionReceipt` shows whether it paid.

use alloy_primitives::{Address, B256, Log, U64};
use serde::Deserialize;

use super::request::ChargeRequest;
use super::{Settle, transfer};
use crate::method::{Settlement, VerifyError};
use crate::protocol::{Challenge, Credential};

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
    let challenge = &ctx.verification.credential.challenge;
    check_receipt(
        ctx.request,
        challenge,
        ctx.payer,
        hash,
        &Fetched {
            succeeded: receipt.succeeded(),
            from: Some(receipt.from),
            logs: &receipt.logs,
        },
    )
}

/// What a receipt of the paying transaction says.
struct Fetched<'a> {
    succeeded: bool,
    /// The sender; a receipt given without one counts transfers from any
    /// sender (a node's receipt always names it).
    from: Option<Address>,
    logs: &'a [Log],
}

/// The checks of a receipt of transaction `hash`, with no I/O: it paid,
/// from the credential's source, every transfer `request` requires, with
/// the challenge-bound memo where the request names no memo of its own.
fn check_receipt(
    request: &ChargeRequest,
    challenge: &Challenge,
    payer: Option<Address>,
    hash: B256,
    receipt: &Fetched<'_>,
) -> Result<Settlement, VerifyError> {
    if !receipt.succeeded {
        return Err(VerifyError::failed("The transaction reverted."));
    }
    if payer.is_some_and(|payer| Some(payer) != receipt.from) {
        return Err(VerifyError::failed(
            "The transaction was not sent by the credential's source.",
        ));
    }
    let transfers = transfer::from_logs(request.currency, receipt.logs.iter());
    transfer::check(
        request,
        &challenge.realm,
        &challenge.id,
        &transfers,
        false,
        receipt.from,
    )
    .map_err(|mismatch| VerifyError::failed(mismatch.detail()))?;
    Ok(Settlement::new(hash.to_string()))
}

/// A receipt as `eth_getTransactionReceipt` returns it; `from` may be
/// missing from one given by hand.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GivenReceipt {
    transaction_hash: B256,
    #[serde(default)]
    from: Option<Address>,
    status: U64,
    #[serde(default)]
    logs: Vec<Log>,
}

/// Checks a push credential (payload `{"type":"hash","hash":..}`) against
/// a receipt of its transaction obtained elsewhere (an indexer, a test
/// fixture), with the checks the Tempo method runs on the receipt it
/// fetches itself: the receipt is the transaction's, it succeeded, it was
/// sent by the credential's `source` when there is one, and it holds every
/// transfer the challenge's request requires, with the challenge-bound
/// attribution memo when the request names no memo.
///
/// The challenge's own binding, expiry and single use are the registry's
/// to check (see [`Payments::verify`](crate::method::Payments::verify)).
/// Returns the settlement reference, the transaction hash.
///
/// # Errors
///
/// A [`VerifyError`]: malformed for a credential or receipt that cannot be
/// read, failed for one that does not pay the challenge.
pub fn check_push_receipt(
    credential: &Credential,
    receipt: &serde_json::Value,
) -> Result<String, VerifyError> {
    let payload = &credential.payload;
    if payload.get("type").and_then(serde_json::Value::as_str) != Some("hash") {
        return Err(VerifyError::malformed(
            "A push credential's payload type is \"hash\".",
        ));
    }
    let hash = payload
        .get("hash")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| VerifyError::malformed("The payload has no \"hash\" string."))?;
    let hash = parse_hash(hash)?;
    let challenge = &credential.challenge;
    let request: ChargeRequest = challenge.request.deserialize().map_err(|e| {
        VerifyError::failed("The challenge's request is not a Tempo charge.").with_source(e)
    })?;
    let payer = match credential.source.as_deref() {
        None => None,
        Some(source) => Some(
            super::source::parse_did(source)
                .ok_or_else(|| {
                    VerifyError::malformed("The credential's source is not a did:pkh:eip155 DID.")
                })?
                .address,
        ),
    };
    let given: GivenReceipt = serde_json::from_value(receipt.clone())
        .map_err(|e| VerifyError::malformed("The receipt cannot be read.").with_source(e))?;
    if given.transaction_hash != hash {
        return Err(VerifyError::failed(
            "The receipt is of another transaction.",
        ));
    }
    let settlement = check_receipt(
        &request,
        challenge,
        payer,
        hash,
        &Fetched {
            succeeded: given.status == U64::from(1),
            from: given.from,
            logs: &given.logs,
        },
    )?;
    Ok(settlement.reference().to_owned())
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
