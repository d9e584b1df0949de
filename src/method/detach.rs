//! Settlement that runs to its end whatever happens to the request.
//!
//! A method's verification may broadcast a transaction: once it has begun,
//! dropping the request's future (the client hung up, a load balancer cut
//! the connection) must not stop it halfway, with money moved and nothing
//! recorded. The method therefore runs in a task of its own on the tokio
//! runtime, owning what it needs, and its outcome is recorded whether or
//! not anyone still waits for it: a failure gives the challenge back, a
//! success hands the receipt to the waiting request, which marks the
//! challenge used as it serves it, or, when that request is gone, records
//! the receipt with the claim for the client's retry (see `claim`).
//!
//! Without a tokio runtime the method runs in the request's future, as
//! before.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::join;
use tokio::sync::oneshot;

use super::charge::RESERVED_RECEIPT_FIELDS;
use super::claim::ChallengeClaim;
use super::hooks::PaymentSettled;
use super::limits::ChallengeAttempts;
use super::payment_method::{Verification, VerifyError};
use super::price::Price;
use super::registry::{DynMethod, Payments};
use crate::protocol::{Base64Json, Credential, Receipt, Timestamp};

/// Runs `work` on the current tokio runtime, where it goes on to its end
/// if the caller is dropped; in the caller without a runtime. `None` when
/// the runtime shut down before it ended.
pub(super) async fn detach<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => match runtime.spawn(in_span(work)).await {
            Ok(output) => Some(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => None,
        },
        Err(_) => Some(work.await),
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
    /// Runs the method in its own task and answers its receipt, the
    /// challenge marked used for this request.
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
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // The task's events belong to the request's span.
            drop(runtime.spawn(in_span(task)));
            waiter.await
        } else {
            join(task, waiter).await.1
        }
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
