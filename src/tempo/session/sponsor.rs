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
//! co-signed transaction's worst fee is counted against the budget, once.
//!
//! A `topUp` is read against the escrow before co-signing: the channel
//! must be this payee's and neither closed nor closing, and a top-up
//! without its own `approve` needs the allowance it spends. Deposits and
//! top-ups below the configured minimums are refused before anything is
//! signed or sent, sponsored or not (each costs a fee for little money).

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, Bytes, U256};
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
            .admit(&signed, payer, sponsored.fee_payer.signer.address())
            .await?;
        crate::tempo::pull::co_sign_with(sponsored.fee_payer, signed, payer, self.currency)
    }

    /// Before co-signing a sponsored `topUp` of channel `id` by `payer`:
    /// the escrow's channel is this payee's, open and not closing, and,
    /// when the transaction does not `approve` (`approves`), the payer's
    /// allowance to the escrow covers `additional`. Else the top-up would
    /// revert at the sponsor's cost.
    pub(super) async fn check_sponsored_top_up(
        &self,
        id: B256,
        payer: Address,
        additional: u128,
        approves: bool,
    ) -> Result<(), VerifyError> {
        let on = self.read_channel(id).await.map_err(rpc_unavailable)?;
        self.check_ours(id, &on)?;
        if approves {
            return Ok(());
        }
        let data = ITIP20::allowanceCall {
            owner: payer,
            spender: self.escrow,
        }
        .abi_encode();
        let raw = self
            .rpc
            .eth_call(self.currency, data.into())
            .await
            .map_err(rpc_unavailable)?;
        let allowance = ITIP20::allowanceCall::abi_decode_returns(&raw)
            .map_err(|_| VerifyError::failed("The token's allowance could not be read."))?;
        if allowance < U256::from(additional) {
            return Err(VerifyError::failed(format!(
                "The top-up approves nothing and the payer allows the escrow {allowance} of the {additional} base units: it would fail at the sponsor's cost."
            )));
        }
        Ok(())
    }

    /// An `open`'s deposit is at least the configured minimum.
    pub(super) fn check_min_deposit(&self, deposit: u128) -> Result<(), VerifyError> {
        if deposit < self.min_deposit {
            return Err(VerifyError::failed(format!(
                "The deposit {deposit} is below this server's minimum of {} base units.",
                self.min_deposit
            )));
        }
        Ok(())
    }

    /// A `topUp` adds at least the configured minimum.
    pub(super) fn check_min_top_up(&self, additional: u128) -> Result<(), VerifyError> {
        if additional < self.min_top_up {
            return Err(VerifyError::failed(format!(
                "The top-up {additional} is below this server's minimum of {} base units.",
                self.min_top_up
            )));
        }
        Ok(())
    }
}
