//! A transaction the gas key submits for a credential, once.
//!
//! The credential's key is claimed as `submitting` while the transaction
//! is simulated, signed and sent, then holds `submitted:<challenge
//! id>:<hash>`. When the node is slow to mine and the receipt wait gives up (a `503`), the
//! payer's retry with the same credential waits for that transaction:
//! it is not refused as a replay (the payer paid), and no second
//! transaction is submitted (it would revert, on the gas key's account),
//! unless the node no longer has the first (dropped from its pool, or
//! restarted): then nothing would mine it, and it is submitted again.
//! Only a credential for the same challenge waits: the key of a Permit2
//! nonce signed again for another challenge is a replay. The challenge's
//! own single-use claim keeps two requests from serving it, and the
//! transfers the receipt must show are the waiting credential's.

use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes};

use super::gas::{GasPayer, Submitted};
use super::verify::{Settle, claims_unavailable};
use super::{RETRY_AFTER, unavailable};
use crate::method::VerifyError;
use crate::store::StoreErrorKind;

/// A gas-paid credential checked offline (`checked`: what its settlement
/// reads), with the gas key that submits it and the call that settles it.
#[derive(Debug)]
pub(super) struct Ready<'a, C> {
    pub(super) gas: &'a GasPayer,
    pub(super) checked: C,
    pub(super) calldata: Bytes,
}

/// The key's value while its transaction is being submitted.
const SUBMITTING: &str = "submitting";
/// The prefix of the key's value once its transaction was sent.
const SUBMITTED: &str = "submitted:";

/// The transaction paying this credential: the one an earlier attempt
/// submitted, or one submitted now by `gas` (`data` to `to`). The key is
/// held for `ttl`; given back when nothing was sent.
pub(super) async fn submit_once(
    ctx: &Settle<'_>,
    gas: &GasPayer,
    key: &str,
    ttl: Duration,
    to: Address,
    data: Bytes,
) -> Result<Submitted, VerifyError> {
    let claims = ctx.claims();
    let keeps_values = match claims.claim_value(key, SUBMITTING, ttl).await {
        Ok(None) => true,
        Ok(Some(value)) => {
            let hash = submitted_for(&value, &ctx.credential.challenge.id).ok_or_else(|| {
                VerifyError::replayed("This payment proof has already paid for a request.")
            })?;
            if ctx
                .method
                .rpc
                .has_transaction(hash)
                .await
                .map_err(unavailable)?
            {
                #[cfg(feature = "tracing")]
                tracing::debug!(target: "tower_mpp", %hash, "waiting again for a submitted transaction");
                return Ok(Submitted { hash });
            }
            // The node no longer has it (dropped from its pool, or
            // restarted): nothing will mine it, so it is submitted again.
            // Should the old one come back, one of the two reverts: the
            // authorization or permit pays once.
            let taken = claims
                .replace(key, &value, Some(SUBMITTING), ttl)
                .await
                .map_err(claims_unavailable)?;
            if !taken {
                return Err(VerifyError::unavailable(
                    RETRY_AFTER,
                    "This payment is being settled; retry shortly.",
                ));
            }
            true
        }
        // A store keeping no values: the plain claim (a retry after a
        // receipt timeout is then refused as a replay).
        Err(e) if e.kind() == StoreErrorKind::Unsupported => {
            ctx.claim(key, ttl).await?;
            false
        }
        Err(e) => return Err(claims_unavailable(e)),
    };
    let submitted = match gas
        .submit(&ctx.method.rpc, ctx.method.chain_id, to, data)
        .await
    {
        Ok(submitted) => submitted,
        Err(error) => {
            // Nothing was sent: the credential stays usable.
            ctx.release(key).await;
            return Err(error);
        }
    };
    if keeps_values {
        let value = format!(
            "{SUBMITTED}{}:{}",
            ctx.credential.challenge.id, submitted.hash
        );
        // Best effort: unrecorded, a retry after a receipt timeout is
        // refused as a replay, as with a store keeping no values.
        let stored = claims.replace(key, SUBMITTING, Some(&value), ttl).await;
        #[cfg(feature = "tracing")]
        if let Err(error) = stored {
            tracing::warn!(target: "tower_mpp", %error, hash = %submitted.hash, "a submitted transaction is not recorded");
        }
        #[cfg(not(feature = "tracing"))]
        let _ = stored;
    }
    Ok(submitted)
}

/// The transaction recorded in `value` for `challenge`: a key (a Permit2
/// nonce, say) recorded for another challenge is a replay, whatever it
/// paid.
fn submitted_for(value: &str, challenge: &str) -> Option<B256> {
    let (id, hash) = value.strip_prefix(SUBMITTED)?.rsplit_once(':')?;
    (id == challenge).then(|| hash.parse().ok()).flatten()
}

/// Waits for the receipt of what [`submit_once`] gave.
pub(super) async fn receipt(
    ctx: &Settle<'_>,
    submitted: &Submitted,
) -> Result<crate::chain::rpc::Receipt, VerifyError> {
    GasPayer::receipt(&ctx.method.rpc, submitted, ctx.method.receipt_timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_challenge_waits_for_a_recorded_transaction() {
        let hash = B256::repeat_byte(7);
        let value = format!("{SUBMITTED}abc-_1:{hash}");
        assert_eq!(submitted_for(&value, "abc-_1"), Some(hash));
        assert_eq!(submitted_for(&value, "abc-_2"), None);
        assert_eq!(submitted_for(SUBMITTING, "abc-_1"), None);
        assert_eq!(submitted_for("1", "abc-_1"), None);
        assert_eq!(submitted_for(&format!("{SUBMITTED}{hash}"), "abc-_1"), None);
    }
}
