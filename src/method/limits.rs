//! What a client can make the server do for free, bounded: failed attempts
//! per challenge, and the claims that free (zero-amount) proofs may hold.
//!
//! A challenge costs nothing to obtain, and each attempt to pay it may cost
//! the server RPC calls; a zero-amount proof costs the client only a
//! signature, and each one holds a claim in the store until its challenge
//! expires. Both are counted in the registry's store (so several instances
//! share the count), and past the limits the server stops working for
//! free: a challenge with too many failed attempts is used up (the client
//! asks for a new one), and free proofs beyond the budget of the current
//! window wait (`503` with `Retry-After`) while paid claims go on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::claim::ChallengeClaim;
use super::payment_method::VerifyError;
use super::price::Price;
use super::registry::Payments;
use super::rejection::{PaymentRejection, RejectionKind};
use crate::store::{SharedStore, StoreError, StoreErrorKind};

/// The default of [`PaymentsBuilder::max_failed_attempts`](super::PaymentsBuilder::max_failed_attempts).
pub const DEFAULT_MAX_FAILED_ATTEMPTS: u32 = 5;
/// The default of [`PaymentsBuilder::free_claims`](super::PaymentsBuilder::free_claims):
/// free proofs per window...
pub const DEFAULT_FREE_CLAIMS: u64 = 200;
/// ...and the window.
pub const DEFAULT_FREE_WINDOW: Duration = Duration::from_secs(1);

/// The registry's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_failed_attempts: u32,
    pub(crate) free_claims: u64,
    pub(crate) free_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_failed_attempts: DEFAULT_MAX_FAILED_ATTEMPTS,
            free_claims: DEFAULT_FREE_CLAIMS,
            free_window: DEFAULT_FREE_WINDOW,
        }
    }
}

/// The failed attempts of one challenge, for a method that answers a
/// challenge many times (a session) and may do costly work for a
/// credential, such as reading an unknown channel from the chain: past
/// [`max_failed_attempts`](super::PaymentsBuilder::max_failed_attempts)
/// failures on the challenge it should not. The registry counts the
/// failures (in its store, shared by instances); a single-use challenge is
/// used up instead.
#[derive(Debug, Clone)]
pub struct ChallengeAttempts {
    counted: Option<(SharedStore, String)>,
    max: u32,
    ttl: Duration,
}

impl ChallengeAttempts {
    /// Attempts at challenge `id`, counted in `store`.
    pub(crate) fn new(store: &SharedStore, id: &str, max: u32, ttl: Duration) -> Self {
        Self {
            counted: Some((store.clone(), id.to_owned())),
            max,
            ttl,
        }
    }

    /// Attempts that are not counted (never exhausted).
    #[cfg(feature = "tempo")]
    pub(crate) fn uncounted() -> Self {
        Self {
            counted: None,
            max: u32::MAX,
            ttl: Duration::ZERO,
        }
    }

    /// Whether the challenge has had its allowed failed attempts. A store
    /// that cannot tell answers `false`: the challenge's own expiry still
    /// bounds the attempts.
    pub async fn exhausted(&self) -> bool {
        let Some((store, id)) = &self.counted else {
            return false;
        };
        let below = u64::from(self.max.saturating_sub(1));
        // Adding nothing reads the count: `None` when it is past `below`.
        matches!(
            store
                .add_within(&attempts_key(id), 0, below, self.ttl)
                .await,
            Ok(None)
        )
    }
}

fn attempts_key(id: &str) -> String {
    format!("attempts:{id}")
}

/// What the count of a failed attempt decided.
pub(crate) enum Attempts {
    /// Attempts remain: the challenge may be tried again.
    Remaining,
    /// That was the last one: the challenge stays claimed.
    Exhausted,
}

impl Limits {
    /// Counts a failed attempt at challenge `id`, whose claim lives `ttl`.
    /// A store that does not count (or cannot answer) leaves attempts open:
    /// the challenge's own expiry still bounds them.
    pub(crate) async fn count_failure(
        &self,
        store: &SharedStore,
        id: &str,
        ttl: Duration,
    ) -> Attempts {
        match store.increment(&attempts_key(id), ttl).await {
            Ok(n) if n >= u64::from(self.max_failed_attempts) => Attempts::Exhausted,
            _ => Attempts::Remaining,
        }
    }

    /// Takes one free claim of the current window: `Ok(None)` when there
    /// is room, `Ok(Some(wait))` when the window's budget is spent (until
    /// its end), and the store's error kind when it cannot count.
    pub(crate) async fn take_free_claim(
        &self,
        store: &SharedStore,
    ) -> Result<Option<Duration>, StoreErrorKind> {
        let window_ms = u64::try_from(self.free_window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let index = now_ms / window_ms;
        let left = Duration::from_millis(window_ms - now_ms % window_ms);
        match store.increment(&format!("free:{index}"), left).await {
            Ok(n) if n > self.free_claims => Ok(Some(left)),
            Ok(_) => Ok(None),
            // A store without counters cannot bound free claims: they are
            // still bounded by its capacity.
            Err(e) if e.kind() == StoreErrorKind::Unsupported => Ok(None),
            Err(e) => Err(e.kind()),
        }
    }
}

impl Payments {
    /// Takes a free claim for a zero `price` (paid prices need none).
    ///
    /// # Errors
    ///
    /// `503` when the window's budget is spent or the store cannot count.
    pub(crate) async fn check_free_budget(&self, price: &Price) -> Result<(), PaymentRejection> {
        if price.amount().to_base_units(38) != Ok(0) {
            return Ok(());
        }
        match self.inner.limits.take_free_claim(&self.inner.store).await {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => Err(self.rejection(
                RejectionKind::Unavailable(wait.max(Duration::from_secs(1))),
                "Too many free payments right now; retry shortly.",
            )),
            Err(kind) => Err(self
                .rejection(
                    RejectionKind::Unavailable(Duration::from_secs(1)),
                    "Payments are temporarily unavailable.",
                )
                .with_source(StoreError::new(kind))),
        }
    }

    /// The failed attempts of challenge `id`, counted for `ttl`.
    pub(crate) fn attempts(&self, id: &str, ttl: Duration) -> ChallengeAttempts {
        let inner = &self.inner;
        ChallengeAttempts::new(&inner.store, id, inner.limits.max_failed_attempts, ttl)
    }

    /// After a method that answers challenge `id` many times refused a
    /// credential: the failure counts against the challenge's attempts
    /// (see [`ChallengeAttempts`]), unless the server was unavailable or
    /// the refusal lets the client go on with what it pays from (a
    /// session's voucher below the price or the minimum rise: the routine
    /// of an honest client, which costs the server nothing).
    pub(crate) async fn count_failure(&self, error: &VerifyError, id: &str, ttl: Duration) {
        if !error.is_unavailable() && error.resume().is_none() {
            let inner = &self.inner;
            inner.limits.count_failure(&inner.store, id, ttl).await;
        }
    }

    /// After the method refused challenge `id`: the claim `claim_key` stays
    /// when the failure used the challenge up (a revert on chain) or was
    /// its last allowed attempt; else it is released, so the client can
    /// retry. Best effort: a claim that cannot be released expires with the
    /// challenge.
    pub(super) async fn after_failure(
        &self,
        error: &VerifyError,
        id: &str,
        claim: &ChallengeClaim,
    ) {
        let inner = &self.inner;
        let ttl = claim.ttl();
        let keep = error.is_challenge_spent()
            || (!error.is_unavailable()
                && matches!(
                    inner.limits.count_failure(&inner.store, id, ttl).await,
                    Attempts::Exhausted
                ));
        if keep {
            claim.keep().await;
        } else {
            claim.give_back().await;
        }
    }
}
