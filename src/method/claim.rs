//! A single-use challenge's state in the store, from its claim to its
//! use.
//!
//! A challenge is claimed with a short lease (its key holds
//! `lease:<token>` for [`LEASE`]) while the method verifies and settles,
//! renewed as long as the method runs. Then one atomic compare-and-set
//! moves it on:
//!
//! - to the used mark `1` (the challenge's lifetime) by the request that
//!   serves the payment;
//! - to `settled:<receipt>` when that request went away (the client hung
//!   up): the next request with the same credential, on any instance,
//!   moves it from there to `1` and is served with the recorded receipt;
//! - back to nothing when the method failed, so the client can retry.
//!
//! A claim whose request gave up on a stalled store (a `503`) is a lease
//! too: it lapses within seconds, and the retry the `503` asked for
//! proceeds. Each step compares the value it expects, so two instances
//! never both serve one payment.
//!
//! "Never delivered" here means the handler never ran for the payment: a
//! request that marked the challenge used did run it (or was dropped
//! within that step). A handler that ran and whose response was lost is
//! the `IdempotencyLayer`'s: outside the payment layer, it keeps the
//! response under the request's `Idempotency-Key` and replays it, so the
//! two together serve a payment once and deliver its response.
//!
//! A store that keeps no values ([`Store::claim_value`] unsupported) gets
//! the older claim for the challenge's whole lifetime.
//!
//! [`Store::claim_value`]: crate::store::Store::claim_value

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};

use super::charge::ChargeContext;
use super::price::Price;
use super::registry::Payments;
use super::rejection::{PaymentRejection, RejectionKind};
use crate::protocol::{ProblemType, Receipt};
use crate::store::{SharedStore, StoreError, StoreErrorKind};

/// How long a lease lives unless the settlement holding it renews it.
pub(crate) const LEASE: Duration = Duration::from_secs(5);
/// How often a running settlement renews its lease.
const RENEW_EVERY: Duration = Duration::from_millis(1500);
/// How long to wait between attempts to record a settled payment.
const RECORD_RETRY: Duration = Duration::from_secs(1);

/// The used mark: a challenge that paid for a response.
const USED: &str = "1";
const SETTLED: &str = "settled:";
const LEASED: &str = "lease:";

/// What a claim of a challenge gave this request.
pub(super) enum Claimed {
    /// The method may run: this request holds the claim.
    Held(ChallengeClaim),
    /// A payment settled for a request that went away: this request serves
    /// it with its receipt.
    Settled(Receipt),
}

/// A challenge this request claimed.
#[derive(Debug, Clone)]
pub(super) struct ChallengeClaim {
    store: SharedStore,
    key: String,
    /// How long the used mark lives: the challenge's lifetime and a margin.
    ttl: Duration,
    /// The lease's value, or `None` for a store that keeps no values
    /// (claimed for `ttl` at once).
    lease: Option<String>,
}

impl ChallengeClaim {
    /// How long the used mark lives.
    pub(super) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Runs `work`, renewing the lease until it ends.
    pub(super) async fn hold_while<F: Future>(&self, work: F) -> F::Output {
        // Without a tokio runtime there is no timer to renew by (nor a
        // task for the method): the lease then covers its first seconds.
        let (Some(lease), Ok(_)) = (&self.lease, tokio::runtime::Handle::try_current()) else {
            return work.await;
        };
        let renewing = pin!(async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                // A missed renewal is retried; if the lease lapses, the
                // method's own claims of its proofs still settle them once.
                let _ = self
                    .store
                    .replace(&self.key, lease, Some(lease), LEASE)
                    .await;
            }
        });
        match select(pin!(work), renewing).await {
            Either::Left((output, _)) => output,
            Either::Right((never, _)) => never,
        }
    }

    /// Marks the challenge used by the request that serves it: `false` when
    /// another request did so first.
    pub(super) async fn serve(&self) -> Result<bool, StoreError> {
        match &self.lease {
            Some(lease) => {
                self.store
                    .replace(&self.key, lease, Some(USED), self.ttl)
                    .await
            }
            None => Ok(true),
        }
    }

    /// Records a settled payment whose request went away, for the client's
    /// retry; retried while the store cannot answer, for as long as the
    /// challenge lives.
    pub(super) async fn record(&self, receipt: &Receipt) {
        let Some(lease) = &self.lease else {
            return;
        };
        let Ok(encoded) = receipt.encode() else {
            return;
        };
        let settled = format!("{SETTLED}{encoded}");
        let until = Instant::now() + self.ttl;
        while Instant::now() < until {
            match self
                .store
                .replace(&self.key, lease, Some(&settled), self.ttl)
                .await
            {
                // `false`: the waiting request marked it used after all.
                Ok(_) => return,
                Err(_) => tokio::time::sleep(RECORD_RETRY).await,
            }
        }
    }

    /// Gives the challenge back after a failure that did not use it up.
    /// Best effort: a lease not given back lapses within seconds.
    pub(super) async fn give_back(&self) {
        let _ = match &self.lease {
            Some(lease) => self
                .store
                .replace(&self.key, lease, None, self.ttl)
                .await
                .map(drop),
            None => self.store.release(&self.key).await,
        };
    }

    /// Keeps the challenge used after a failure that used it up.
    pub(super) async fn keep(&self) {
        if let Some(lease) = &self.lease {
            let _ = self
                .store
                .replace(&self.key, lease, Some(USED), self.ttl)
                .await;
        }
    }
}

impl Payments {
    /// Claims a single-use challenge before its method runs, so that two
    /// payments are never made for one challenge (the second would be
    /// refused after paying).
    pub(super) async fn claim_challenge(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        key: String,
        ttl: Duration,
    ) -> Result<Claimed, PaymentRejection> {
        let store = &self.inner.store;
        self.check_free_budget(price).await?;
        let lease = format!("{LEASED}{}", self.inner.nonces.next().as_str());
        let held = |lease| {
            Claimed::Held(ChallengeClaim {
                store: store.clone(),
                key: key.clone(),
                ttl,
                lease,
            })
        };
        let current = match store.claim_value(&key, &lease, LEASE).await {
            Ok(None) => return Ok(held(Some(lease))),
            Ok(Some(current)) => current,
            Err(error) if error.kind() == StoreErrorKind::Unsupported => {
                return match store.claim(&key, ttl).await {
                    Ok(true) => Ok(held(None)),
                    Ok(false) => Err(self.used(price, ctx)),
                    Err(error) => Err(self.store_unavailable(error)),
                };
            }
            Err(error) => return Err(self.store_unavailable(error)),
        };
        if let Some(encoded) = current.strip_prefix(SETTLED) {
            return match store.replace(&key, &current, Some(USED), ttl).await {
                Ok(true) => Receipt::parse(encoded)
                    .map(Claimed::Settled)
                    .map_err(|e| self.misconfigured("a recorded receipt").with_source(e)),
                Ok(false) => Err(self.used(price, ctx)),
                Err(error) => Err(self.store_unavailable(error)),
            };
        }
        if current.starts_with(LEASED) {
            return Err(self.rejection(
                RejectionKind::Unavailable(Duration::from_secs(1)),
                "This challenge's payment is being settled: retry shortly.",
            ));
        }
        Err(self.used(price, ctx))
    }

    fn used(&self, price: &Price, ctx: &ChargeContext<'_>) -> PaymentRejection {
        self.failed(
            price,
            ctx,
            ProblemType::InvalidChallenge,
            "This challenge was already used.",
        )
    }

    fn store_unavailable(&self, error: StoreError) -> PaymentRejection {
        self.rejection(
            RejectionKind::Unavailable(Duration::from_secs(1)),
            "Payments are temporarily unavailable.",
        )
        .with_source(error)
    }
}
