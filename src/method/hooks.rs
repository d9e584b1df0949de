//! Hooks: what the registry tells the application about payments.
//!
//! Events carry identifiers, amounts and outcomes, never a credential, a
//! secret or a signature.

use http::StatusCode;

use super::rejection::PaymentRejection;
use crate::protocol::{Challenge, Receipt};

/// Callbacks for payment events; every method has a no-op default.
///
/// ```
/// use tower_mpp::method::{PaymentHooks, RefundCandidate};
///
/// struct Refunds;
/// impl PaymentHooks for Refunds {
///     fn refund_candidate(&self, event: &RefundCandidate<'_>) {
///         eprintln!("paid but failed with {}: {}", event.status, event.receipt.reference);
///     }
/// }
/// ```
pub trait PaymentHooks: Send + Sync + 'static {
    /// A 402 with fresh challenges is about to be sent.
    fn challenge_issued(&self, _event: &ChallengeIssued<'_>) {}
    /// A payment was verified and settled; the handler runs next.
    fn payment_settled(&self, _event: &PaymentSettled<'_>) {}
    /// A credential was refused, or verification could not complete.
    fn payment_failed(&self, _event: &PaymentFailed<'_>) {}
    /// A paid request's handler answered with a non-2xx status: the payment
    /// settled but nothing was served, so no receipt was sent.
    fn refund_candidate(&self, _event: &RefundCandidate<'_>) {}
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl PaymentHooks for NoHooks {}

/// Fresh challenges issued for a request.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChallengeIssued<'a> {
    /// The route scope (`METHOD /path`).
    pub scope: &'a str,
    /// The challenges, one per offer.
    pub challenges: &'a [Challenge],
}

/// A settled payment.
#[derive(Debug)]
#[non_exhaustive]
pub struct PaymentSettled<'a> {
    /// The route scope.
    pub scope: &'a str,
    /// The id of the challenge that was paid.
    pub challenge_id: &'a str,
    /// The payer, as the credential names it (`did:pkh:...`), if it does.
    pub payer: Option<&'a str>,
    /// The receipt sent with the response.
    pub receipt: &'a Receipt,
}

/// A refused or unverifiable credential.
#[derive(Debug)]
#[non_exhaustive]
pub struct PaymentFailed<'a> {
    /// The route scope.
    pub scope: &'a str,
    /// The challenge id the credential echoed, if it could be read.
    pub challenge_id: Option<&'a str>,
    /// What was sent back.
    pub rejection: &'a PaymentRejection,
}

/// A settled payment whose handler failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct RefundCandidate<'a> {
    /// The route scope.
    pub scope: &'a str,
    /// The receipt that was withheld.
    pub receipt: &'a Receipt,
    /// The handler's status.
    pub status: StatusCode,
}
