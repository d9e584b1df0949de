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

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use tempo_alloy::primitives::transaction::{AASigned, TempoTransaction};

use super::rpc::{Rpc, RpcFault};
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

/// How much fee sponsorship one server instance (or every instance sharing
/// a budget store, see `TempoChargeBuilder::sponsor_budget_store`) grants
/// per window, in base units of the fee token, each transaction counted at
/// its worst fee (`gas_limit x max_fee_per_gas`, which is more than it will
/// pay).
///
/// Past the budget, sponsored payments wait: `503` with `Retry-After` until
/// the window ends, and the client's signed transaction stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SponsorBudget {
    /// The most fee-token base units co-signed per window.
    pub max_fees: u128,
    /// The window.
    pub window: Duration,
}

impl Default for SponsorBudget {
    /// 100 units of a 6-decimal token (100 USD of `PathUSD`) an hour: about
    /// a thousand transfers at the default fee limits' worst case.
    fn default() -> Self {
        Self {
            max_fees: 100_000_000,
            window: Duration::from_secs(3600),
        }
    }
}

/// The fees co-signed in the current window: in this instance, or in a
/// store the instances share.
#[derive(Debug)]
pub(crate) struct BudgetTracker {
    budget: SponsorBudget,
    spent: Mutex<(Instant, u128)>,
    /// The transactions counted in this instance, until they expire (Unix
    /// seconds): a replay is not counted twice.
    counted: Mutex<HashMap<B256, u64>>,
    shared: Option<SharedStore>,
}

/// How long a counted transaction is remembered past its `valid_before`
/// (for clocks that differ), and at most when it names none.
const COUNTED_MARGIN: Duration = Duration::from_secs(60);
/// Past this many remembered transactions, the expired ones are dropped...
const COUNTED_PRUNE: usize = 1024;
/// ...and no more than this many are remembered.
const COUNTED_CAP: usize = 65_536;

const BUDGET_SPENT: &str = "This server's fee sponsorship budget is spent for now; retry later.";

impl BudgetTracker {
    pub(crate) fn new(budget: SponsorBudget, shared: Option<SharedStore>) -> Self {
        Self {
            budget,
            spent: Mutex::new((Instant::now(), 0)),
            counted: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Counts `signed`'s worst fee against the budget of `fee_payer` (in
    /// the shared store when there is one: one budget for every instance
    /// sponsoring with that key, in windows aligned on the Unix epoch), or
    /// answers `503` with the wait until the window ends.
    ///
    /// A transaction is counted once: it is known by its expiring-nonce
    /// hash (from `sender`), and one already counted passes without
    /// counting again (the chain mines it at most once).
    pub(crate) async fn admit(
        &self,
        signed: &AASigned,
        sender: Address,
        fee_payer: Address,
    ) -> Result<(), VerifyError> {
        let tx = signed.tx();
        let hash = signed.expiring_nonce_hash(sender);
        let now = unix_now();
        // Remembered while the chain could still mine it.
        let until = tx
            .valid_before
            .map_or(now, std::num::NonZeroU64::get)
            .max(now)
            .saturating_add(COUNTED_MARGIN.as_secs());
        let Some(store) = &self.shared else {
            return self.admit_here(tx, hash, until, now).map_err(|wait| {
                VerifyError::unavailable(wait.max(Duration::from_secs(1)), BUDGET_SPENT)
            });
        };
        self.admit_shared(store, tx, (fee_payer, hash), until, now)
            .await
    }

    /// [`admit`](Self::admit) in this instance: the transaction is
    /// remembered and counted under one lock.
    fn admit_here(
        &self,
        tx: &TempoTransaction,
        hash: B256,
        until: u64,
        now: u64,
    ) -> Result<(), Duration> {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counted.get(&hash).is_some_and(|&end| end > now) {
            return Ok(());
        }
        self.reserve(tx)?;
        if counted.len() >= COUNTED_PRUNE {
            counted.retain(|_, end| *end > now);
        }
        // Past the cap a replay is counted again: the budget errs on the
        // sponsor's side.
        if counted.len() < COUNTED_CAP {
            counted.insert(hash, until);
        }
        Ok(())
    }

    /// [`admit`](Self::admit) in the shared store. A transaction's mark
    /// there is a small counter: 1 while one instance counts its fee, 2
    /// once counted; a failed count removes it. A duplicate that finds it
    /// being counted waits (`503`) rather than pass uncounted.
    async fn admit_shared(
        &self,
        store: &SharedStore,
        tx: &TempoTransaction,
        (fee_payer, hash): (Address, B256),
        until: u64,
        now: u64,
    ) -> Result<(), VerifyError> {
        let unavailable =
            |detail: &'static str| VerifyError::unavailable(Duration::from_secs(1), detail);
        let store_down = "The fee sponsorship budget's store is unavailable; retry later.";
        let mark = format!("sponsored:{fee_payer}:{hash}");
        let mark_ttl = Duration::from_secs(until.saturating_sub(now));
        match store.add_within(&mark, 1, 1, mark_ttl).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return match store.add_within(&mark, 0, 1, mark_ttl).await {
                    // Counted: the same transaction again.
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err(unavailable(
                        "This transaction's sponsorship is being counted; retry shortly.",
                    )),
                    Err(_) => Err(unavailable(store_down)),
                };
            }
            Err(_) => return Err(unavailable(store_down)),
        }
        let window = self.budget.window.as_secs().max(1);
        let index = now / window;
        let key = format!("sponsor-budget:{fee_payer}:{window}:{index}");
        let fee = u64::try_from(worst_fee(tx)).unwrap_or(u64::MAX);
        let max = u64::try_from(self.budget.max_fees).unwrap_or(u64::MAX);
        // The counter outlives its window a little, for clocks that differ.
        let ttl = Duration::from_secs(window.saturating_add(60));
        let counted = store.add_within(&key, fee, max, ttl).await;
        if matches!(counted, Ok(Some(_))) {
            // Best effort: a mark left at 1 makes duplicates wait until it
            // expires, never pass uncounted.
            let _ = store.add_within(&mark, 1, 2, mark_ttl).await;
            return Ok(());
        }
        // Not counted: a retry may count it.
        let _ = store.release(&mark).await;
        match counted {
            Ok(_) => {
                let wait = (index + 1).saturating_mul(window).saturating_sub(now);
                Err(VerifyError::unavailable(
                    Duration::from_secs(wait.max(1)),
                    BUDGET_SPENT,
                ))
            }
            Err(_) => Err(unavailable(store_down)),
        }
    }

    /// Counts `tx`'s worst fee, or says how long to wait when the window's
    /// budget cannot cover it.
    pub(crate) fn reserve(&self, tx: &TempoTransaction) -> Result<(), Duration> {
        let fee = worst_fee(tx);
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (started, used) = &mut *spent;
        if started.elapsed() >= self.budget.window {
            *started = Instant::now();
            *used = 0;
        }
        match used.checked_add(fee) {
            Some(total) if total <= self.budget.max_fees => {
                *used = total;
                Ok(())
            }
            _ => Err(self.budget.window.saturating_sub(started.elapsed())),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
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
