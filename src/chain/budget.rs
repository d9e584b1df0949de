//! A budget for the fees a server pays on clients' behalf (a Tempo fee
//! payer's co-signed transactions, an EVM server's submitted transfers),
//! per window, in one instance or shared by several through the store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256};

use crate::method::VerifyError;
use crate::store::SharedStore;

/// How much fee sponsorship one server instance (or every instance sharing
/// a budget store) grants
/// per window, in base units of what fees are paid in (a Tempo fee token, an EVM
/// chain's native coin in wei), each transaction counted at its worst fee
/// (`gas_limit x max_fee_per_gas`, which is more than it will pay).
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
pub(crate) struct FeeBudget {
    budget: SponsorBudget,
    spent: Mutex<(Instant, u128)>,
    /// The transactions counted in this instance, until they expire (Unix
    /// seconds): a replay is not counted twice.
    #[cfg_attr(not(feature = "tempo"), allow(dead_code))] // Tempo's fee payer
    counted: Mutex<HashMap<B256, u64>>,
    shared: Option<SharedStore>,
}

const BUDGET_SPENT: &str = "This server's fee sponsorship budget is spent for now; retry later.";
const STORE_DOWN: &str = "The fee sponsorship budget's store is unavailable; retry later.";

/// How long a counted transaction is remembered past its validity (for
/// clocks that differ).
#[cfg_attr(not(feature = "tempo"), allow(dead_code))]
pub(crate) const COUNTED_MARGIN: Duration = Duration::from_secs(60);
/// Past this many remembered transactions, the expired ones are dropped...
const COUNTED_PRUNE: usize = 1024;
/// ...and no more than this many are remembered.
const COUNTED_CAP: usize = 65_536;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl FeeBudget {
    pub(crate) fn new(budget: SponsorBudget, shared: Option<SharedStore>) -> Self {
        Self {
            budget,
            spent: Mutex::new((Instant::now(), 0)),
            counted: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Counts `fee` for the transaction known as `id` once: a transaction
    /// the chain mines at most once (an expiring nonce's hash, a sender's
    /// nonce), counted until `until` (Unix seconds) passes. One already
    /// counted passes without counting again, so a replayed credential
    /// costs the budget nothing; else as [`admit`](Self::admit).
    #[cfg_attr(not(feature = "tempo"), allow(dead_code))]
    pub(crate) async fn admit_once(
        &self,
        fee: u128,
        fee_payer: Address,
        id: B256,
        until: u64,
    ) -> Result<(), VerifyError> {
        let now = unix_now();
        let Some(store) = &self.shared else {
            let mut counted = self
                .counted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if counted.get(&id).is_some_and(|&end| end > now) {
                return Ok(());
            }
            self.reserve(fee).map_err(|wait| {
                VerifyError::unavailable(wait.max(Duration::from_secs(1)), BUDGET_SPENT)
            })?;
            if counted.len() >= COUNTED_PRUNE {
                counted.retain(|_, end| *end > now);
            }
            // Past the cap a replay is counted again: the budget errs on
            // the sponsor's side.
            if counted.len() < COUNTED_CAP {
                counted.insert(id, until);
            }
            return Ok(());
        };
        // The transaction's mark is a small counter: 1 while one instance
        // counts its fee, 2 once counted; a failed count removes it. A
        // duplicate that finds it being counted waits (503) rather than
        // pass uncounted.
        let unavailable =
            |detail: &'static str| VerifyError::unavailable(Duration::from_secs(1), detail);
        let mark = format!("sponsored:{fee_payer}:{id}");
        let mark_ttl = Duration::from_secs(until.saturating_sub(now).max(1));
        match store.add_within(&mark, 1, 1, mark_ttl).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return match store.add_within(&mark, 0, 1, mark_ttl).await {
                    // Counted: the same transaction again.
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err(unavailable(
                        "This transaction's sponsorship is being counted; retry shortly.",
                    )),
                    Err(_) => Err(unavailable(STORE_DOWN)),
                };
            }
            Err(_) => return Err(unavailable(STORE_DOWN)),
        }
        let counted = self.admit(fee, fee_payer).await;
        if counted.is_ok() {
            // Best effort: a mark left at 1 makes duplicates wait until it
            // expires, never pass uncounted.
            let _ = store.add_within(&mark, 1, 2, mark_ttl).await;
        } else {
            // Not counted: a retry may count it.
            let _ = store.release(&mark).await;
        }
        counted
    }

    /// Counts `fee` against the budget of `fee_payer` (in the
    /// shared store when there is one: one budget for every instance
    /// sponsoring with that key, in windows aligned on the Unix epoch), or
    /// answers `503` with the wait until the window ends.
    pub(crate) async fn admit(&self, fee: u128, fee_payer: Address) -> Result<(), VerifyError> {
        let Some(store) = &self.shared else {
            return self.reserve(fee).map_err(|wait| {
                VerifyError::unavailable(wait.max(Duration::from_secs(1)), BUDGET_SPENT)
            });
        };
        let window = self.budget.window.as_secs().max(1);
        let now = unix_now();
        let index = now / window;
        let key = format!("sponsor-budget:{fee_payer}:{window}:{index}");
        let fee = u64::try_from(fee).unwrap_or(u64::MAX);
        let max = u64::try_from(self.budget.max_fees).unwrap_or(u64::MAX);
        // The counter outlives its window a little, for clocks that differ.
        let ttl = Duration::from_secs(window.saturating_add(60));
        match store.add_within(&key, fee, max, ttl).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                let wait = (index + 1).saturating_mul(window).saturating_sub(now);
                Err(VerifyError::unavailable(
                    Duration::from_secs(wait.max(1)),
                    BUDGET_SPENT,
                ))
            }
            Err(_) => Err(VerifyError::unavailable(Duration::from_secs(1), STORE_DOWN)),
        }
    }

    /// Counts `fee` in this instance, or says how long to wait when the
    /// window's budget cannot cover it.
    pub(crate) fn reserve(&self, fee: u128) -> Result<(), Duration> {
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
