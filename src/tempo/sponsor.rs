//! Sponsoring a client's fees without being drained: what the fee payer
//! checks before it co-signs.
//!
//! A sponsored transaction that reverts still costs the sponsor its fee.
//! So before co-signing, each call of the client's transaction is run as an
//! ordinary call from the sender (`eth_estimateGas`; nodes cannot simulate a
//! Tempo transaction as a whole, and anvil crashes on `eth_simulateV1` with
//! one): a call that would revert (an account without the funds, say) is
//! refused before anything is signed or sent. The same estimates size the
//! gas limit the sponsor accepts, and every co-signed transaction's worst
//! fee (`gas_limit x max_fee_per_gas`) is counted against a budget per
//! window, once: a transaction is known by its expiring-nonce hash (the
//! identity the chain mines at most once, whatever its signatures), which
//! is claimed before its fee is counted, so a replayed credential does not
//! count again.

use std::fmt;
use std::sync::Arc;
#[cfg(test)]
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use tempo_alloy::primitives::transaction::{AASigned, TempoTransaction};

use super::rpc::{Rpc, RpcFault};
pub use crate::chain::budget::SponsorBudget;
use crate::chain::budget::{COUNTED_MARGIN, FeeBudget};
use crate::method::VerifyError;
use crate::store::SharedStore;

/// Limits on the fees the server's fee payer sponsors for one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeLimits {
    /// The largest gas limit co-signed.
    pub max_gas: u64,
    /// The largest `max_fee_per_gas` co-signed, in attodollars per gas
    /// as Tempo prices gas.
    pub max_fee_per_gas: u128,
}

impl Default for FeeLimits {
    /// One transfer with the most splits fits easily; fees stay at a few
    /// cents even at the fee cap.
    fn default() -> Self {
        Self {
            max_gas: 2_000_000,
            max_fee_per_gas: 100_000_000_000,
        }
    }
}

/// The server's fee payer: the key that co-signs clients' transactions and
/// the token it pays fees in.
#[derive(Clone)]
pub(crate) struct FeePayer {
    pub(crate) signer: PrivateKeySigner,
    pub(crate) fee_token: Option<Address>,
    pub(crate) limits: FeeLimits,
    /// Shared by the method's clones.
    pub(crate) budget: Arc<BudgetTracker>,
}

impl fmt::Debug for FeePayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeePayer")
            .field("address", &self.signer.address())
            .field("fee_token", &self.fee_token)
            .field("limits", &self.limits)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Attodollars per base unit of a 6-decimal TIP-20 fee token (Tempo prices
/// gas in attodollars).
const ATTO_PER_BASE_UNIT: u128 = 1_000_000_000_000;
/// The gas limit clients of the MPP SDKs sign for one sponsored transfer:
/// always accepted when the calls need less.
const CLIENT_DEFAULT_GAS: u64 = 1_000_000;
/// What a Tempo transaction may need on top of its calls' own estimates
/// (its signature, nonce and fee handling).
const TX_OVERHEAD_GAS: u64 = 300_000;

/// The fees co-signed in the current window (see [`FeeBudget`]), each
/// Tempo transaction counted at its worst fee.
#[derive(Debug)]
pub(crate) struct BudgetTracker(FeeBudget);

impl BudgetTracker {
    pub(crate) fn new(budget: SponsorBudget, shared: Option<SharedStore>) -> Self {
        Self(FeeBudget::new(budget, shared))
    }

    /// Counts `signed`'s worst fee against `fee_payer`'s budget once (it
    /// is known by its expiring-nonce hash from `sender`: the identity the
    /// chain mines at most once, whatever its signatures), or answers
    /// `503` with the wait until the window ends.
    pub(crate) async fn admit(
        &self,
        signed: &AASigned,
        sender: Address,
        fee_payer: Address,
    ) -> Result<(), VerifyError> {
        let tx = signed.tx();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // Remembered while the chain could still mine it.
        let until = tx
            .valid_before
            .map_or(now, std::num::NonZeroU64::get)
            .max(now)
            .saturating_add(COUNTED_MARGIN.as_secs());
        let hash = signed.expiring_nonce_hash(sender);
        self.0
            .admit_once(worst_fee(tx), fee_payer, hash, until)
            .await
    }

    /// Counts `tx`'s worst fee in this instance, or says how long to wait.
    #[cfg(test)]
    pub(crate) fn reserve(&self, tx: &TempoTransaction) -> Result<(), Duration> {
        self.0.reserve(worst_fee(tx))
    }
}

/// `tx`'s highest possible fee, in fee-token base units (rounded up).
fn worst_fee(tx: &TempoTransaction) -> u128 {
    u128::from(tx.gas_limit)
        .saturating_mul(tx.max_fee_per_gas)
        .div_ceil(ATTO_PER_BASE_UNIT)
}

/// Runs each call of `tx` as a call from `sender` and checks the gas limit
/// against what they need: not below their estimates (it would run out of
/// gas and revert at the sponsor's cost), not above them by more than a
/// Tempo transaction's overhead (or the SDKs' usual limit for one
/// transfer), and never above `max_gas`.
pub(crate) async fn simulate(
    rpc: &Rpc,
    sender: Address,
    tx: &TempoTransaction,
    max_gas: u64,
) -> Result<(), VerifyError> {
    let mut needed: u64 = 0;
    for call in &tx.calls {
        let to = call.to.to().copied().unwrap_or_default();
        let gas = rpc
            .estimate_call(sender, to, &call.input)
            .await
            .map_err(|fault| match fault {
                RpcFault::Refused { message, .. } => VerifyError::failed(format!(
                    "The transaction would fail on chain, so this server does not sponsor it: {message}"
                )),
                unavailable @ RpcFault::Unavailable(_) => super::Settle::unavailable(unavailable),
            })?;
        needed = needed.saturating_add(gas);
    }
    let cap = needed
        .saturating_add(TX_OVERHEAD_GAS)
        .max(CLIENT_DEFAULT_GAS)
        .min(max_gas);
    if tx.gas_limit < needed {
        return Err(VerifyError::failed(format!(
            "The transaction's gas limit {} is below what its calls need ({needed}): it would fail at the sponsor's cost.",
            tx.gas_limit
        )));
    }
    if tx.gas_limit > cap {
        return Err(VerifyError::failed(format!(
            "The transaction's gas limit {} exceeds what this server sponsors for its calls (at most {cap}).",
            tx.gas_limit
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(gas_limit: u64, max_fee_per_gas: u128) -> TempoTransaction {
        TempoTransaction {
            gas_limit,
            max_fee_per_gas,
            ..TempoTransaction::default()
        }
    }

    #[test]
    fn the_budget_counts_worst_fees_per_window() {
        let tracker = BudgetTracker::new(
            SponsorBudget {
                max_fees: 250_000,
                window: Duration::from_millis(80),
            },
            None,
        );
        // 1M gas at 100 gwei: 0.1 USD, 100,000 base units.
        let one = tx(1_000_000, 100_000_000_000);
        assert_eq!(worst_fee(&one), 100_000);
        assert!(tracker.reserve(&one).is_ok());
        assert!(tracker.reserve(&one).is_ok());
        let wait = tracker.reserve(&one).unwrap_err();
        assert!(wait <= Duration::from_millis(80));
        std::thread::sleep(Duration::from_millis(90));
        assert!(tracker.reserve(&one).is_ok());
        assert_eq!(worst_fee(&tx(1, 1)), 1, "rounded up");
        assert!(tracker.reserve(&tx(u64::MAX, u128::MAX)).is_err());
    }
}
