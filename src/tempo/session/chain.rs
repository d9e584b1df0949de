//! Where a session touches the chain besides the client's own
//! transactions: reading a channel back from the escrow, and the payee's
//! `settle` and `close` transactions (expiring-nonce Tempo transactions,
//! so no nonce is tracked and any number may be in flight).

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;
use tempo_alloy::primitives::transaction::{Call, TEMPO_EXPIRING_NONCE_KEY, TempoTransaction};

use super::escrow::ITempoStreamChannel;
use super::method::Inner;
use crate::tempo::rpc::RpcFault;

/// How long the payee's transactions stay valid (Tempo drops expiring
/// nonces valid for more than 30 s past the latest block).
const VALIDITY: Duration = Duration::from_secs(25);
/// Gas for `settle` or `close` (about 80,000 each on the deployed escrow).
const GAS_LIMIT: u64 = 400_000;

/// A channel as the escrow reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OnChain {
    pub(super) finalized: bool,
    pub(super) close_requested_at: u64,
    pub(super) payer: Address,
    pub(super) payee: Address,
    pub(super) token: Address,
    pub(super) authorized_signer: Address,
    pub(super) deposit: u128,
    pub(super) settled: u128,
}

impl OnChain {
    /// Whether the escrow knows the channel (a finalized one reads back
    /// zeroed).
    pub(super) fn exists(&self) -> bool {
        self.payer != Address::ZERO
    }

    /// Who signs vouchers.
    pub(super) fn signer(&self) -> Address {
        if self.authorized_signer == Address::ZERO {
            self.payer
        } else {
            self.authorized_signer
        }
    }
}

/// Why a payee transaction did not go through.
#[derive(Debug)]
pub(super) enum TxFailure {
    /// The node could not be reached or refused it: nothing happened, or
    /// what happened is unknown (a retry is safe: the escrow settles a
    /// cumulative amount once).
    Rpc(RpcFault),
    /// The transaction was mined and reverted.
    Reverted(B256),
}

impl std::fmt::Display for TxFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rpc(fault) => write!(f, "{fault}"),
            Self::Reverted(hash) => write!(f, "transaction {hash} reverted"),
        }
    }
}

impl std::error::Error for TxFailure {}

impl Inner {
    /// `getChannel(id)` from the escrow.
    pub(super) async fn read_channel(&self, id: B256) -> Result<OnChain, RpcFault> {
        let data = ITempoStreamChannel::getChannelCall { channelId: id }.abi_encode();
        let raw = self.rpc.eth_call(self.escrow, data.into()).await?;
        let c = ITempoStreamChannel::getChannelCall::abi_decode_returns(&raw).map_err(|_| {
            RpcFault::Unavailable("getChannel answered something unreadable".to_owned())
        })?;
        Ok(OnChain {
            finalized: c.finalized,
            close_requested_at: c.closeRequestedAt,
            payer: c.payer,
            payee: c.payee,
            token: c.token,
            authorized_signer: c.authorizedSigner,
            deposit: c.deposit,
            settled: c.settled,
        })
    }

    /// `settle(id, amount, signature)` from the payee; the hash once mined.
    pub(super) async fn settle_on_chain(
        &self,
        id: B256,
        amount: u128,
        signature: Bytes,
    ) -> Result<B256, TxFailure> {
        let input = ITempoStreamChannel::settleCall {
            channelId: id,
            cumulativeAmount: amount,
            signature,
        }
        .abi_encode();
        self.send_payee_tx(input).await
    }

    /// `close(id, amount, signature)` from the payee; the hash once mined.
    pub(super) async fn close_on_chain(
        &self,
        id: B256,
        amount: u128,
        signature: Bytes,
    ) -> Result<B256, TxFailure> {
        let input = ITempoStreamChannel::closeCall {
            channelId: id,
            cumulativeAmount: amount,
            signature,
        }
        .abi_encode();
        self.send_payee_tx(input).await
    }

    async fn send_payee_tx(&self, input: Vec<u8>) -> Result<B256, TxFailure> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let tx = TempoTransaction {
            chain_id: self.chain_id,
            fee_token: Some(self.fee_token),
            max_priority_fee_per_gas: 1_000_000_000.min(self.max_fee_per_gas),
            max_fee_per_gas: self.max_fee_per_gas,
            gas_limit: GAS_LIMIT,
            calls: vec![Call {
                to: TxKind::Call(self.escrow),
                value: U256::ZERO,
                input: input.into(),
            }],
            nonce_key: TEMPO_EXPIRING_NONCE_KEY,
            nonce: 0,
            valid_before: NonZeroU64::new((now + VALIDITY).as_secs()),
            ..TempoTransaction::default()
        };
        let signature = self
            .payee
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| TxFailure::Rpc(RpcFault::Unavailable(format!("signing: {e}"))))?;
        let raw: Bytes = tx.into_signed(signature.into()).encoded_2718().into();
        let hash = keccak256(&raw);
        let receipt = self
            .rpc
            .broadcast(raw, hash, self.receipt_timeout)
            .await
            .map_err(TxFailure::Rpc)?;
        if receipt.succeeded() {
            Ok(hash)
        } else {
            Err(TxFailure::Reverted(hash))
        }
    }
}
