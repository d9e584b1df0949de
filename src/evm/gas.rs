//! The server's gas key: it submits `permit2` and `authorization` transfers
//! and pays their gas, without being drained.
//!
//! A submitted call that reverts still costs its gas. So every call is
//! first run as a call from the gas key (`eth_estimateGas`): one that would
//! revert (a payer without the balance or the allowance, a used nonce) is
//! refused before anything is signed. The estimate, with a margin, is the
//! gas limit, never above [`GasLimits::max_gas`]; the fee cap is the
//! node's gas price with room to rise, never above
//! [`GasLimits::max_fee_per_gas`]; and each transaction's worst fee
//! (`gas_limit x max_fee_per_gas`, in wei) is counted against a
//! [`SponsorBudget`](crate::evm::SponsorBudget) per window before it is sent.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

use super::{RETRY_AFTER, unavailable};
use crate::chain::budget::FeeBudget;
use crate::chain::rpc::{Receipt, Rpc, RpcFault};
use crate::method::VerifyError;

/// Limits on what the server's gas key spends on one transfer it submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasLimits {
    /// The largest gas limit signed.
    pub max_gas: u64,
    /// The largest `max_fee_per_gas` signed, in wei.
    pub max_fee_per_gas: u128,
}

impl Default for GasLimits {
    /// A Permit2 batch with ten splits fits (about 400k gas); 200 gwei
    /// covers busy L1 blocks.
    fn default() -> Self {
        Self {
            max_gas: 600_000,
            max_fee_per_gas: 200_000_000_000,
        }
    }
}

/// The headroom on top of an estimate, in percent: storage refunds and
/// state changes between the estimate and the block.
const GAS_MARGIN_PERCENT: u64 = 20;

/// The server's gas key.
#[derive(Clone)]
pub(crate) struct GasPayer {
    pub(crate) signer: PrivateKeySigner,
    pub(crate) limits: GasLimits,
    pub(crate) budget: Arc<FeeBudget>,
    /// Held from reading the key's nonce to the node accepting the
    /// transaction that uses it, so two submissions never share a nonce.
    pub(crate) sending: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for GasPayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GasPayer")
            .field("address", &self.signer.address())
            .field("limits", &self.limits)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// A transaction the gas key signed and the node accepted.
#[derive(Debug)]
pub(crate) struct Submitted {
    pub(crate) hash: alloy_primitives::B256,
}

impl GasPayer {
    pub(crate) fn address(&self) -> Address {
        self.signer.address()
    }

    /// Simulates `data` on `to` from the gas key, then signs and sends it
    /// within the limits and the budget. A call that would revert is the
    /// client's fault (402); the node's trouble and a spent budget are
    /// `503`.
    pub(crate) async fn submit(
        &self,
        rpc: &Rpc,
        chain_id: u64,
        to: Address,
        data: Bytes,
    ) -> Result<Submitted, VerifyError> {
        let from = self.address();
        let needed = rpc
            .estimate_call(from, to, &data)
            .await
            .map_err(|fault| match fault {
                RpcFault::Refused { message, .. } => VerifyError::failed(format!(
                    "The transfer would fail on chain, so this server does not submit it: {message}"
                )),
                unavailable @ RpcFault::Unavailable(_) => unavailable_node(unavailable),
            })?;
        let gas_limit = needed.saturating_add(needed * GAS_MARGIN_PERCENT / 100);
        if gas_limit > self.limits.max_gas {
            return Err(VerifyError::failed(format!(
                "The transfer needs {needed} gas, more than this server pays for one ({}).",
                self.limits.max_gas
            )));
        }
        let (price, tip) = tokio::join!(rpc.gas_price(), rpc.max_priority_fee());
        let price = price.map_err(unavailable_node)?;
        // A node without the method: no tip beyond what the price has.
        let tip = tip.unwrap_or(0);
        if price > self.limits.max_fee_per_gas {
            return Err(VerifyError::unavailable(
                RETRY_AFTER * 15,
                "Gas is dearer than this server pays for now; retry later.",
            ));
        }
        let max_fee = price.saturating_mul(2).min(self.limits.max_fee_per_gas);
        let tip = tip.min(max_fee);
        self.budget
            .admit(u128::from(gas_limit).saturating_mul(max_fee), from)
            .await?;
        let _sending = self.sending.lock().await;
        let nonce = rpc.pending_nonce(from).await.map_err(unavailable_node)?;
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list: alloy_eips::eip2930::AccessList::default(),
            input: data,
        };
        let signature = self
            .signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| {
                VerifyError::unavailable(RETRY_AFTER, "The server could not sign.").with_source(e)
            })?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let hash = *envelope.tx_hash();
        let raw = Bytes::from(envelope.encoded_2718());
        match rpc.send(raw).await {
            Ok(_) => Ok(Submitted { hash }),
            Err(fault) if fault.is_already_known() => Ok(Submitted { hash }),
            Err(fault) => Err(unavailable_node(fault)),
        }
    }

    /// Waits up to `wait` for a submitted transaction's receipt.
    pub(crate) async fn receipt(
        rpc: &Rpc,
        submitted: &Submitted,
        wait: Duration,
    ) -> Result<Receipt, VerifyError> {
        rpc.wait_receipt(submitted.hash, wait)
            .await
            .map_err(unavailable_node)
    }
}

fn unavailable_node(fault: RpcFault) -> VerifyError {
    unavailable(fault)
}
