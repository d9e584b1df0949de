//! Sponsoring a client's `open` or `topUp` fees (`feePayer: true`) without
//! being drained.
//!
//! A sponsored transaction that reverts still costs the sponsor its fee,
//! and the escrow's `open` cannot be simulated on its own (it needs the
//! allowance the same transaction's `approve` grants). So before
//! co-signing, what makes these calls revert is read instead: the payer
//! must hold the tokens it deposits, and an `open` must create a channel
//! the escrow does not know yet (a `topUp` must reach an open one: the
//! caller has checked that). The signed bytes must stay valid only until
//! the challenge expires (an expiring nonce and `valid_before`), the gas
//! and fee cap stay within [`FeeLimits`](crate::tempo::FeeLimits), and each
//! co-signed transaction's worst fee is counted against the budget.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::AASigned;

use super::method::{Inner, rpc_unavailable};
use crate::method::VerifyError;
use crate::tempo::sponsor::FeePayer;

/// A client transaction that asks for a fee sponsor, checked so far.
pub(super) struct Sponsored<'a> {
    pub(super) fee_payer: &'a FeePayer,
}

impl Inner {
    /// The fee payer, when the client's transaction asks for one (a `0x78`
    /// envelope or a fee payer placeholder), after the checks that need no
    /// chain: an expiring nonce, `valid_before` no later than the
    /// challenge's expiry, no fee token, gas within limits.
    pub(super) fn sponsorship(
        &self,
        signed: &AASigned,
        enveloped: bool,
        expires: SystemTime,
    ) -> Result<Option<Sponsored<'_>>, VerifyError> {
        let tx = signed.tx();
        if !enveloped && tx.fee_payer_signature.is_none() {
            return Ok(None);
        }
        let Some(fee_payer) = self.fee_payer.as_ref() else {
            return Err(VerifyError::failed(
                "This server does not sponsor the fees of session transactions.",
            ));
        };
        if !tx.is_expiring_nonce_tx() {
            return Err(VerifyError::failed(
                "A sponsored transaction must use an expiring nonce (nonce key 2^256-1, nonce 0).",
            ));
        }
        let expires = expires
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // `valid_before` is exclusive: `expires + 1` ends at the expiry.
        if tx
            .valid_before
            .is_none_or(|before| before.get() > expires + 1)
        {
            return Err(VerifyError::failed(
                "A sponsored transaction must carry valid_before, at the latest the challenge's expiry.",
            ));
        }
        if !tx.access_list.is_empty() {
            return Err(VerifyError::failed(
                "The transaction carries an access list; a channel transaction makes its calls only.",
            ));
        }
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
        Ok(Some(Sponsored { fee_payer }))
    }

    /// Reads that the payer holds `amount` of the channel's token (what its
    /// calls move), counts the worst fee against the budget, then
    /// co-signs: the bytes to broadcast.
    pub(super) async fn co_sign(
        &self,
        sponsored: Sponsored<'_>,
        signed: AASigned,
        payer: Address,
        amount: u128,
    ) -> Result<Bytes, VerifyError> {
        let data = ITIP20::balanceOfCall { account: payer }.abi_encode();
        let raw = self
            .rpc
            .eth_call(self.currency, data.into())
            .await
            .map_err(rpc_unavailable)?;
        let balance = ITIP20::balanceOfCall::abi_decode_returns(&raw)
            .map_err(|_| VerifyError::failed("The token's balance could not be read."))?;
        if balance < U256::from(amount) {
            return Err(VerifyError::failed(format!(
                "The payer holds {balance} of the {amount} base units the transaction moves: it would fail at the sponsor's cost."
            )));
        }
        sponsored
            .fee_payer
            .budget
            .admit(signed.tx(), sponsored.fee_payer.signer.address())
            .await?;
        crate::tempo::pull::co_sign_with(sponsored.fee_payer, signed, payer, self.currency)
    }
}
