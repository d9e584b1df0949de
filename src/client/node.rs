//! What the chain providers share about their node: its chain id, asked
//! once and compared with each challenge's.

use tokio::sync::OnceCell;

use super::error::PayError;
use crate::chain::rpc::{Rpc, RpcFault};

/// A node and the chain it is on (asked at most once, or given).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) rpc: Rpc,
    chain_id: OnceCell<u64>,
}

impl Node {
    pub(crate) fn new(rpc: Rpc) -> Self {
        Self {
            rpc,
            chain_id: OnceCell::new(),
        }
    }

    /// The chain, known in advance: saves the `eth_chainId` call.
    pub(crate) fn set_chain_id(&mut self, chain_id: u64) {
        self.chain_id = OnceCell::new_with(Some(chain_id));
    }

    /// The chain, if known yet.
    pub(crate) fn known_chain_id(&self) -> Option<u64> {
        self.chain_id.get().copied()
    }

    /// Whether the node is on chain `wanted`: a challenge for another
    /// chain is not paid from this one.
    pub(crate) async fn check_chain(&self, wanted: u64) -> Result<(), PayError> {
        let ours = self
            .chain_id
            .get_or_try_init(|| self.rpc.chain_id())
            .await
            .map_err(|fault| PayError::unavailable(fault.to_string()))?;
        if *ours != wanted {
            return Err(PayError::invalid(format!(
                "the challenge is for chain {wanted}, the node is on chain {ours}"
            )));
        }
        Ok(())
    }
}

/// A payment step the node refused (it simulated the payment and it would
/// fail: a low balance, say) or could not answer.
pub(crate) fn payment_fault(fault: &RpcFault) -> PayError {
    match fault {
        RpcFault::Refused { .. } => PayError::failed(format!("the payment would fail: {fault}")),
        RpcFault::Unavailable(_) => PayError::unavailable(fault.to_string()),
    }
}
