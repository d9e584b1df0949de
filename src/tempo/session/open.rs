//! The actions that touch the chain: `open` and `topUp` (the client's
//! transaction, checked, then broadcast once and read back from the
//! escrow) and `close` (the payee's transaction with the final voucher).
//!
//! The client's transaction is decoded as charges decode theirs (`0x76`,
//! see `pull.rs`) and must make exactly the calls the action needs:
//! `approve(escrow, >= deposit)` on the channel's token, then `open`
//! paying this payee in this currency (or `topUp` of this channel). Its
//! channel id is recomputed and its first voucher checked before anything
//! is broadcast; a channel the store already knows is not opened twice (a
//! retried open is its voucher).

use std::time::SystemTime;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::{AASigned, Call, TempoTransaction};

use super::chain::{OnChain, TxFailure};
use super::escrow::{ITempoStreamChannel, channel_id};
use super::method::{Done, Inner, not_found, refused, rpc_unavailable, store_unavailable};
use crate::method::VerifyError;
use crate::protocol::ProblemType;
use crate::store::AccountingError;
use crate::store::{Channel, ChannelUpdate, SignedVoucher};
use crate::tempo::rpc::RpcFault;

impl Inner {
    /// `action="open"`: the channel opened by `transaction`, with its first
    /// voucher, then `cost` debited.
    pub(super) async fn open(
        &self,
        id: B256,
        transaction: &str,
        (cumulative, signature): (u128, Bytes),
        cost: u128,
        expires: SystemTime,
    ) -> Result<Done, VerifyError> {
        let voucher = self.signed(id, cumulative, signature.clone())?;
        let known = self.store.get(id).await.map_err(store_unavailable)?;
        if known.is_some() {
            // A retried open: the channel is there; its voucher pays, as
            // any voucher does.
            return self.open_known(id, voucher, cost).await;
        }
        let (client_tx, payer, enveloped) = self.decode(transaction)?;
        let sponsored = self.sponsorship(&client_tx, enveloped, expires)?;
        let tx = client_tx.tx();
        let [approve, open] = tx.calls.as_slice() else {
            return Err(wrong_calls("approve then open"));
        };
        let deposit = self.check_approve(approve)?;
        let call = decode_call::<ITempoStreamChannel::openCall>(open, self.escrow)
            .ok_or_else(|| wrong_calls("approve then open"))?;
        if call.payee != self.recipient || call.token != self.currency {
            return Err(VerifyError::failed(
                "The channel would pay another payee or token than this server's.",
            ));
        }
        if call.deposit == 0 || U256::from(call.deposit) > deposit {
            return Err(VerifyError::failed(
                "The open deposits nothing, or more than it approves.",
            ));
        }
        self.check_min_deposit(call.deposit)?;
        let computed = channel_id(
            payer,
            self.recipient,
            self.currency,
            call.salt,
            call.authorizedSigner,
            self.escrow,
            self.chain_id,
        );
        if computed != id {
            return Err(VerifyError::failed(
                "The channel id is not the one the open transaction creates.",
            ));
        }
        let signer = if call.authorizedSigner == Address::ZERO {
            payer
        } else {
            call.authorizedSigner
        };
        if voucher.signer != signer {
            return Err(VerifyError::problem(
                ProblemType::SessionSignerMismatch,
                "The first voucher is not signed by the channel's signer.",
            ));
        }
        if cumulative > call.deposit {
            return Err(VerifyError::problem(
                ProblemType::SessionAmountExceedsDeposit,
                "The first voucher is above the deposit.",
            ));
        }
        // An open the escrow already has (mined before, and presented
        // again to a store that forgot it) is not a fresh open: the
        // channel is recovered from the escrow, and its voucher is worth
        // nothing beyond what it already authorized.
        let before = self.read_channel(id).await.map_err(rpc_unavailable)?;
        if before.exists() || before.finalized {
            if sponsored.is_some() {
                return Err(VerifyError::failed(
                    "The escrow already has this channel: the open would fail at the sponsor's cost.",
                ));
            }
            return self.open_known(id, voucher, cost).await;
        }
        let raw = match sponsored {
            None => encode(&client_tx),
            Some(sponsored) => {
                self.co_sign(sponsored, client_tx, payer, call.deposit)
                    .await?
            }
        };
        let hash = self.broadcast(raw).await?;
        let on = self.read_channel(id).await.map_err(rpc_unavailable)?;
        self.check_ours(id, &on)?;
        if on.signer() != signer || on.deposit < cumulative {
            return Err(VerifyError::failed(
                "The escrow holds another channel than the open transaction describes.",
            ));
        }
        let mut channel = Channel::opened(payer, signer, on.deposit, cumulative, signature);
        channel.state.settled = on.settled;
        self.store
            .insert(id, channel)
            .await
            .map_err(store_unavailable)?;
        let applied = self.pay(id, None, 1, cost).await?;
        Ok(Done {
            id,
            channel: applied.channel,
            tx: Some(hash),
        })
    }

    /// An `open` of a channel that exists already: its voucher pays as any
    /// voucher does (held to the minimum delta), and nothing is broadcast.
    async fn open_known(
        &self,
        id: B256,
        voucher: SignedVoucher,
        cost: u128,
    ) -> Result<Done, VerifyError> {
        let applied = self
            .pay(id, Some(voucher), self.min_voucher_delta, cost)
            .await?;
        Ok(Done {
            id,
            channel: applied.channel,
            tx: None,
        })
    }

    /// `action="topUp"`: more deposit by `transaction`, then `cost`
    /// debited from what the vouchers already allow.
    pub(super) async fn top_up(
        &self,
        id: B256,
        transaction: &str,
        additional: u128,
        cost: u128,
        expires: SystemTime,
    ) -> Result<Done, VerifyError> {
        let stored = match self.store.get(id).await.map_err(store_unavailable)? {
            Some(channel) => channel,
            None => self.recover(id, None).await?,
        };
        let (client_tx, payer, enveloped) = self.decode(transaction)?;
        let sponsored = self.sponsorship(&client_tx, enveloped, expires)?;
        if payer != stored.payer {
            return Err(VerifyError::failed(
                "The top-up is not signed by the channel's payer.",
            ));
        }
        let top_up = match client_tx.tx().calls.as_slice() {
            [top_up] => top_up,
            [approve, top_up] => {
                if self.check_approve(approve)? < U256::from(additional) {
                    return Err(wrong_calls("approve then topUp"));
                }
                top_up
            }
            _ => return Err(wrong_calls("approve then topUp")),
        };
        let call = decode_call::<ITempoStreamChannel::topUpCall>(top_up, self.escrow)
            .ok_or_else(|| wrong_calls("approve then topUp"))?;
        if call.channelId != id
            || call.additionalDeposit != U256::from(additional)
            || additional == 0
        {
            return Err(VerifyError::failed(
                "The top-up transaction adds another amount or to another channel.",
            ));
        }
        self.check_min_top_up(additional)?;
        if stored.state.finalized || stored.state.close_requested {
            return Err(finalized(id));
        }
        let raw = match sponsored {
            None => encode(&client_tx),
            Some(sponsored) => {
                let approves = client_tx.tx().calls.len() == 2;
                self.check_sponsored_top_up(id, payer, additional, approves)
                    .await?;
                self.co_sign(sponsored, client_tx, payer, additional)
                    .await?
            }
        };
        let hash = self.broadcast(raw).await?;
        let on = self.read_channel(id).await.map_err(rpc_unavailable)?;
        self.check_ours(id, &on)?;
        if on.deposit < stored.state.deposit.saturating_add(additional) {
            return Err(VerifyError::failed(
                "The escrow's deposit did not grow by the top-up.",
            ));
        }
        self.store
            .update(id, ChannelUpdate::Deposit(on.deposit))
            .await
            .map_err(store_unavailable)?;
        let applied = self.pay(id, None, 1, cost).await?;
        Ok(Done {
            id,
            channel: applied.channel,
            tx: Some(hash),
        })
    }

    /// `action="close"`: `cost` debited, then the payee closes the channel
    /// on chain with the final voucher.
    ///
    /// With the v1 escrow the payee captures exactly the close voucher's
    /// amount, so the server takes the payer's final word rather than its
    /// highest voucher: the close voucher must cover what was spent (and
    /// settled) and stay within the deposit, and may be below vouchers
    /// accepted earlier (a payer who authorized more than it used signs
    /// what it used). The channel stops serving before the check, so no
    /// request can spend past the amount being captured.
    pub(super) async fn close(
        &self,
        id: B256,
        amount: u128,
        signature: Bytes,
        cost: u128,
    ) -> Result<Done, VerifyError> {
        let voucher = self.signed(id, amount, signature.clone())?;
        if cost > 0 {
            self.pay(id, None, 1, cost).await?;
        }
        let channel = match self.store.get(id).await.map_err(store_unavailable)? {
            Some(channel) => channel,
            None => self.recover(id, None).await?,
        };
        if voucher.signer != channel.signer {
            return Err(refused(id, &AccountingError::SignerMismatch));
        }
        if channel.state.finalized {
            return Err(finalized(id));
        }
        // One atomic step checks the voucher against what was consumed and
        // stops service: a voucher too low changes nothing, and no request
        // can spend past the amount being captured.
        let until = unix_now().saturating_add(self.receipt_timeout.as_secs() + CLOSE_MARGIN_SECS);
        let applied = self
            .store
            .update(id, ChannelUpdate::Close { amount, until })
            .await
            .map_err(store_unavailable)?
            .ok_or_else(|| not_found(id))?;
        if let Err(refusal) = applied.outcome {
            return Err(match refusal {
                AccountingError::CloseBelowConsumed { .. } => VerifyError::problem(
                    ProblemType::SessionDeltaTooSmall,
                    format!("Channel {id}: {refusal}."),
                ),
                refusal => refused(id, &refusal),
            });
        }
        let hash = match self.close_on_chain(id, amount, signature).await {
            Ok(hash) => hash,
            Err(TxFailure::Rpc(fault)) => return Err(rpc_unavailable(fault)),
            Err(TxFailure::Reverted(hash)) => {
                let on = self.read_channel(id).await.map_err(rpc_unavailable)?;
                if !on.exists() || on.finalized {
                    self.finalize(id, on.settled).await?;
                    return Err(finalized(id));
                }
                return Err(VerifyError::failed(format!(
                    "Closing channel {id} reverted on chain ({hash})."
                )));
            }
        };
        let channel = self.finalize(id, amount).await?;
        Ok(Done {
            id,
            channel,
            tx: Some(hash),
        })
    }

    pub(super) async fn finalize(&self, id: B256, settled: u128) -> Result<Channel, VerifyError> {
        self.store
            .update(id, ChannelUpdate::Finalized { settled })
            .await
            .map_err(store_unavailable)?
            .map(|applied| applied.channel)
            .ok_or_else(|| not_found(id))
    }

    /// A channel the store does not know but the escrow does (a restart of
    /// a memory store, lost Redis data, another store for the same payee):
    /// stored as the escrow has it, with everything up to the `voucher`
    /// that brought it here counted as already spent.
    ///
    /// What the payer vouched before this store learned of the channel is
    /// unknown, and may have been served already (elsewhere, or before the
    /// store forgot): the payer's first voucher here is kept for settlement
    /// (the payee is owed it) but buys nothing; the next, higher one pays.
    /// Vouchers carry no time: a payer presenting a lower old voucher
    /// first, then its highest, is served again for the difference, which
    /// is at most what was vouched and not settled when the store forgot
    /// (why a forgetful store needs an explicit opt-in).
    pub(super) async fn recover(
        &self,
        id: B256,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Channel, VerifyError> {
        let on = self.read_unknown(id).await?;
        self.check_ours(id, &on)?;
        let mut channel =
            Channel::opened(on.payer, on.signer(), on.deposit, on.settled, Bytes::new());
        channel.state.settled = on.settled;
        if let Some(voucher) = voucher.filter(|v| {
            v.signer == channel.signer && v.amount > on.settled && v.amount <= on.deposit
        }) {
            channel.state.accepted_cumulative = voucher.amount;
            channel.voucher_signature = voucher.signature.clone();
            #[cfg(feature = "tracing")]
            tracing::warn!(
                channel = %id,
                settled = %on.settled,
                vouched = %voucher.amount,
                "a channel this store never saw arrived with value vouched beyond what is settled; \
                 it is counted as spent. If several instances serve this payee, they must share \
                 one channel store"
            );
        }
        channel.state.spent = channel.state.accepted_cumulative;
        channel.state.close_requested = on.close_requested_at != 0;
        self.store
            .insert(id, channel)
            .await
            .map_err(store_unavailable)
    }

    /// The escrow's channel exists, pays this payee in this currency, and
    /// is neither closed nor closing.
    pub(super) fn check_ours(&self, id: B256, on: &OnChain) -> Result<(), VerifyError> {
        if !on.exists() || on.payee != self.recipient || on.token != self.currency {
            return Err(not_found(id));
        }
        if on.finalized || on.close_requested_at != 0 {
            return Err(finalized(id));
        }
        Ok(())
    }

    /// The signed transaction and its sender, with what can be checked
    /// without the chain.
    /// The signed transaction, its sender, and whether it came in a
    /// fee-payer envelope (`0x78`).
    fn decode(&self, transaction: &str) -> Result<(AASigned, Address, bool), VerifyError> {
        let (signed, named) = crate::tempo::pull::decode(transaction)?;
        let sender = signed
            .recover_signer()
            .map_err(|_| VerifyError::failed("The transaction's signature does not verify."))?;
        if named.is_some_and(|named| named != sender) {
            return Err(VerifyError::failed(
                "The fee-payer envelope names another sender than the one who signed.",
            ));
        }
        check_envelope(signed.tx(), self.chain_id)?;
        Ok((signed, sender, named.is_some()))
    }

    /// `approve(escrow, amount)` on the currency; the amount.
    fn check_approve(&self, call: &Call) -> Result<U256, VerifyError> {
        let approve = decode_call::<ITIP20::approveCall>(call, self.currency)
            .ok_or_else(|| wrong_calls("approve of the channel's token first"))?;
        if approve.spender != self.escrow {
            return Err(VerifyError::failed(
                "The transaction approves another spender than the escrow.",
            ));
        }
        Ok(approve.amount)
    }

    /// Broadcasts the client's transaction (co-signed when sponsored); its
    /// hash once mined.
    async fn broadcast(&self, raw: Bytes) -> Result<B256, VerifyError> {
        let hash = alloy_primitives::keccak256(&raw);
        let receipt = self
            .rpc
            .broadcast(raw, hash, self.receipt_timeout)
            .await
            .map_err(|fault| match fault {
                RpcFault::Refused { message, .. } => {
                    VerifyError::failed(format!("The chain refused the transaction: {message}"))
                }
                unavailable @ RpcFault::Unavailable(_) => rpc_unavailable(unavailable),
            })?;
        if !receipt.succeeded() {
            return Err(VerifyError::failed(format!(
                "The transaction {hash} reverted."
            )));
        }
        Ok(hash)
    }
}

/// How long past the receipt timeout a close counts as in flight.
const CLOSE_MARGIN_SECS: u64 = 30;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn encode(signed: &AASigned) -> Bytes {
    use alloy_eips::eip2718::Encodable2718;
    signed.encoded_2718().into()
}

/// The chain, validity window and authorizations of a client transaction.
fn check_envelope(tx: &TempoTransaction, chain_id: u64) -> Result<(), VerifyError> {
    if tx.chain_id != chain_id {
        return Err(VerifyError::failed(format!(
            "The transaction is for chain {}, the session for chain {chain_id}.",
            tx.chain_id
        )));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if tx.valid_before.is_some_and(|before| before.get() <= now) {
        return Err(VerifyError::expired(
            "The transaction's validity window has closed.",
        ));
    }
    if tx.key_authorization.is_some() || !tx.tempo_authorization_list.is_empty() {
        return Err(VerifyError::failed(
            "The transaction carries authorizations; a channel transaction makes its calls only.",
        ));
    }
    if tx.calls.iter().any(|call| !call.value.is_zero()) {
        return Err(VerifyError::failed("The transaction sends value."));
    }
    Ok(())
}

/// `call` decoded as `C`, if it calls `to` with exactly `C`'s arguments.
fn decode_call<C: SolCall>(call: &Call, to: Address) -> Option<C> {
    if call.to.to() != Some(&to) {
        return None;
    }
    C::abi_decode(&call.input).ok()
}

fn wrong_calls(expected: &str) -> VerifyError {
    VerifyError::failed(format!(
        "The transaction must make exactly these calls: {expected}."
    ))
}

fn finalized(id: B256) -> VerifyError {
    VerifyError::problem(
        ProblemType::SessionChannelFinalized,
        format!("Channel {id} is closed or closing."),
    )
}
