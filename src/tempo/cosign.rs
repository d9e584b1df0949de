//! Co-signing a sponsored transaction without broadcasting it: the checks
//! and the fee payer signature of pull mode, for a caller that broadcasts
//! (or only inspects) the result itself.

use std::time::SystemTime;

use alloy_consensus::transaction::SignerRecoverable;
use serde_json::Value;

use super::request::ChargeRequest;
use super::{Settle, TempoCharge, pull};
use crate::method::{Price, Verification, VerifyError};
use crate::protocol::Credential;
use crate::store::{MemoryStore, SharedStore};

impl TempoCharge {
    /// Checks a sponsored pull credential (payload `{"type":"transaction",
    /// "signature":..}`, a `0x78` fee-payer envelope or a `0x76`
    /// transaction with the placeholder fee payer signature) as
    /// [`verify`](crate::method::PaymentMethod::verify) does, and returns
    /// the transaction co-signed by this method's fee payer, encoded
    /// (`0x76`), without broadcasting it.
    ///
    /// `expires` is the challenge's expiry: the transaction's validity
    /// window must end by then. The challenge binding, its expiry and the
    /// single use of the transaction are the registry's and the caller's
    /// to check.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] for a credential this server would not co-sign:
    /// a charge without sponsored fees, a transaction that does not pay
    /// the challenge's request exactly (with the challenge-bound memo), one
    /// that names its own fee token, or one beyond the fee payer's limits.
    pub fn co_sign(
        &self,
        credential: &Credential,
        expires: SystemTime,
    ) -> Result<Vec<u8>, VerifyError> {
        let request: ChargeRequest = credential.challenge.request.deserialize().map_err(|e| {
            VerifyError::failed("The challenge's request is not a Tempo charge.").with_source(e)
        })?;
        if !request.method_details.fee_payer {
            return Err(VerifyError::failed(
                "The charge does not sponsor fees: there is nothing to co-sign.",
            ));
        }
        if credential.payload.get("type").and_then(Value::as_str) != Some("transaction") {
            return Err(VerifyError::malformed(
                "A sponsored payment is a \"transaction\" credential.",
            ));
        }
        let fee_payer = self
            .inner
            .fee_payer
            .as_ref()
            .ok_or_else(|| VerifyError::failed("This server has no fee payer."))?;
        let price = Price::base_units(0);
        let claims = SharedStore::new(MemoryStore::default());
        let verification = Verification {
            credential,
            request: &credential.challenge.request,
            price: &price,
            expires,
            // Nothing is broadcast here, so nothing's mining time is read.
            issued: expires,
            claims: &claims,
            units: 1,
            attempts: crate::method::ChallengeAttempts::uncounted(),
        };
        let payer = match credential.source.as_deref() {
            None => None,
            Some(source) => Some(
                super::source::parse_did(source)
                    .ok_or_else(|| {
                        VerifyError::malformed(
                            "The credential's source is not a did:pkh:eip155 DID.",
                        )
                    })?
                    .address,
            ),
        };
        let ctx = Settle {
            method: &self.inner,
            verification: &verification,
            request: &request,
            payer,
        };
        let (signed, named_sender) = pull::decode(ctx.payload_str("signature")?)?;
        let sender = signed
            .recover_signer()
            .map_err(|_| VerifyError::failed("The transaction's signature does not verify."))?;
        if named_sender.is_some_and(|named| named != sender) {
            return Err(VerifyError::failed(
                "The fee-payer envelope names another sender than the one who signed.",
            ));
        }
        pull::check(&ctx, signed.tx(), sender)?;
        Ok(pull::co_sign(&ctx, fee_payer, signed, sender)?.to_vec())
    }
}
