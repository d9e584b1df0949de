//! Settlement that runs to its end whatever happens to the request.
//!
//! A method's verification may broadcast a transaction: once it has begun,
//! dropping the request's future (the client hung up, a load balancer cut
//! the connection) must not stop it halfway, with money moved and nothing
//! recorded. The method therefore runs in a [`Detachable`] future owning
//! what it needs: polled in the request's future while the request lives
//! (no task, no thread hop), moved to a task of its own on the tokio
//! runtime when the request is dropped. Its outcome is recorded whether or
//! not anyone still waits for it: a failure gives the challenge back, a
//! success hands the receipt to the waiting request, which marks the
//! challenge used as it serves it, or, when that request is gone, records
//! the receipt with the claim for the client's retry (see `claim`).
//!
//! Without a tokio runtime, a dropped request drops its settlement, as
//! before.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use futures_util::future::join;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::charge::RESERVED_RECEIPT_FIELDS;
use super::claim::ChallengeClaim;
use super::hooks::PaymentSettled;
use super::limits::ChallengeAttempts;
use super::payment_method::{Verification, VerifyError};
use super::price::Price;
use super::registry::{DynMethod, Payments};
use crate::protocol::{Base64Json, Credential, Receipt, Timestamp};

/// A future run in the caller's own future (no task, no thread hop on
/// the way), whose rest is spawned on the caller's runtime if the caller
/// is dropped before it ends: it always runs to its end (unless there is
/// no tokio runtime, or it shuts down).
pub(super) struct Detachable<T: Send + 'static> {
    work: Option<Pin<Box<dyn Future<Output = T> + Send>>>,
    runtime: Option<Handle>,
}

impl<T: Send + 'static> Detachable<T> {
    pub(super) fn new(work: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            // Its events belong to the request's span, wherever it ends.
            work: Some(Box::pin(in_span(work))),
            runtime: Handle::try_current().ok(),
        }
    }
}

impl<T: Send + 'static> Future for Detachable<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let work = self.work.as_mut().expect("polled after completion");
        let output = ready!(work.as_mut().poll(cx));
        self.work = None;
        Poll::Ready(output)
    }
}

impl<T: Send + 'static> Drop for Detachable<T> {
    fn drop(&mut self) {
        if let (Some(work), Some(runtime)) = (self.work.take(), &self.runtime) {
            drop(runtime.spawn(async move {
                work.await;
            }));
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Detachable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detachable")
            .field("running", &self.work.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "tracing")]
fn in_span<F: Future>(work: F) -> impl Future<Output = F::Output> {
    tracing::Instrument::in_current_span(work)
}

#[cfg(not(feature = "tracing"))]
fn in_span<F: Future>(work: F) -> F {
    work
}

/// The error of a settlement whose task ended without an answer.
pub(super) fn lost() -> VerifyError {
    VerifyError::unavailable(
        Duration::from_secs(1),
        "Payments are temporarily unavailable.",
    )
}

/// Everything a method's verification needs, owned by its task.
pub(super) struct Settling {
    pub(super) payments: Payments,
    pub(super) method: Arc<dyn DynMethod>,
    pub(super) credential: Credential,
    pub(super) expected: Base64Json,
    pub(super) price: Price,
    pub(super) expires: SystemTime,
    pub(super) issued: SystemTime,
    pub(super) scope: String,
    /// The challenge's claim, for single-use challenges.
    pub(super) claim: Option<ChallengeClaim>,
    /// The challenge's failed attempts, and for how long they are counted.
    pub(super) attempts: (ChallengeAttempts, Duration),
}

impl Settling {
    /// Runs the method to its end, whatever happens to this future, and
    /// answers its receipt, the challenge marked used for this request.
    pub(super) async fn run(self) -> Result<Receipt, VerifyError> {
        let claim = self.claim.clone();
        let task_claim = self.claim.clone();
        let (result_tx, result_rx) = oneshot::channel();
        let (served_tx, served_rx) = oneshot::channel::<()>();
        let task = async move {
            let outcome = self.settle().await;
            match (outcome, &task_claim) {
                (Ok(receipt), Some(claim)) => {
                    // The lease is held until the waiting request marked
                    // the challenge used, or went away without doing so.
                    let handed = claim
                        .hold_while(async {
                            result_tx.send(Ok(receipt.clone())).is_ok() && served_rx.await.is_ok()
                        })
                        .await;
                    if !handed {
                        claim.record(&receipt).await;
                    }
                }
                (outcome, _) => {
                    let _ = result_tx.send(outcome);
                }
            }
        };
        let waiter = async move {
            let receipt = result_rx.await.map_err(|_| lost())??;
            if let Some(claim) = &claim {
                match claim.serve().await {
                    Ok(true) => {
                        let _ = served_tx.send(());
                    }
                    Ok(false) => {
                        return Err(VerifyError::replayed("This challenge was already used."));
                    }
                    // The task records the receipt for a retry.
                    Err(error) => return Err(lost().with_source(error)),
                }
            }
            Ok(receipt)
        };
        join(Detachable::new(task), waiter).await.1
    }

    /// The method's verification, then the receipt; a failure gives the
    /// challenge back (or keeps it, when the failure used it up).
    async fn settle(&self) -> Result<Receipt, VerifyError> {
        let payments = &self.payments;
        let verification = Verification {
            credential: &self.credential,
            request: &self.expected,
            price: &self.price,
            expires: self.expires,
            issued: self.issued,
            claims: &payments.inner.store,
            units: self.price.unit_count(),
            attempts: self.attempts.0.clone(),
        };
        let verifying = self.method.verify(&verification);
        let result = match &self.claim {
            Some(claim) => claim.hold_while(verifying).await,
            None => verifying.await,
        };
        let echo = &self.credential.challenge;
        let settlement = match result {
            Ok(settlement) => settlement,
            Err(error) => {
                if let Some(claim) = &self.claim {
                    payments.after_failure(&error, &echo.id, claim).await;
                } else {
                    payments
                        .count_failure(&error, &echo.id, self.attempts.1)
                        .await;
                }
                return Err(error);
            }
        };
        let (reference, mut fields) = settlement.into_parts();
        fields.retain(|name, _| !RESERVED_RECEIPT_FIELDS.contains(&name.as_str()));
        let mut receipt = Receipt::new(echo.method.clone(), Timestamp::now(), reference);
        // The price's reference, or the one the method put in its request.
        receipt.external_id = self
            .price
            .external_id_text()
            .map(str::to_owned)
            .or_else(|| {
                self.expected
                    .object()
                    .get("externalId")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            });
        receipt.extra = fields;
        payments.inner.hooks.payment_settled(&PaymentSettled {
            scope: &self.scope,
            challenge_id: &echo.id,
            payer: self.credential.source.as_deref(),
            receipt: &receipt,
        });
        Ok(receipt)
    }
}
