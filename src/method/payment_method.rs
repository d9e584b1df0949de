//! The `PaymentMethod` trait: what a payment method (Tempo, Stripe, ...)
//! provides to the registry.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::limits::ChallengeAttempts;
use super::meter::Meter;
use super::price::Price;
use crate::protocol::{Base64Json, Credential, ProblemType, Receipt};
use crate::store::SharedStore;

/// A payment method: builds the `request` of its challenges and verifies the
/// credentials that answer them.
///
/// The registry has already checked the challenge binding, realm, expiry,
/// price pinning, scope and body digest when [`verify`](Self::verify) runs:
/// the method checks only the payment itself, and claims its own proofs
/// (a transaction hash, a signature) in [`Verification::claims`] so that
/// one proof never settles twice.
pub trait PaymentMethod: Send + Sync + 'static {
    /// The method identifier, `1*LOWERALPHA` (e.g. `tempo`).
    fn name(&self) -> &str;

    /// The intent of this method's challenges: `charge` by default,
    /// `session` for payment channels. A registry holds at most one method
    /// per name and intent, so `tempo` may be offered as a charge and as a
    /// session side by side.
    // Implementations may return a field of theirs.
    #[allow(clippy::unnecessary_literal_bound)]
    fn intent(&self) -> &str {
        "charge"
    }

    /// Whether this method serves `intent` (by default, its
    /// [`intent`](Self::intent)).
    fn supports_intent(&self, intent: &str) -> bool {
        intent == self.intent()
    }

    /// Whether a credential answers its challenge once (`true`, the
    /// default: the registry claims the challenge before the method runs,
    /// as a charge needs), or the same challenge is answered many times
    /// (`false`, a session: each credential carries a voucher whose
    /// cumulative amount must rise, which is the method's own replay
    /// guard). Methods answering `false` meter: they are the ones offered
    /// when a route charges a number of units (see
    /// [`Verification::units`]).
    fn single_use_challenges(&self) -> bool {
        true
    }

    /// Whether `echoed`, a request this server signed, pins to `offered`,
    /// this route's request for the price. By default they must be equal;
    /// a session accepts its own request naming a channel to resume.
    fn pins_request(&self, offered: &Base64Json, echoed: &Base64Json) -> bool {
        offered == echoed
    }

    /// Handles a management request: a body-less `POST` or a `HEAD` that
    /// carries only a credential (a session's voucher, top-up or close), to
    /// be answered with a receipt without running the route's handler.
    /// `Ok(None)` (the default) when this method has no such requests:
    /// the request then goes to the handler as usual.
    ///
    /// The registry has checked the challenge's binding, realm, method,
    /// intent and expiry; not the price (management buys nothing: the
    /// method checks that the echoed request is one of its own).
    fn manage(
        &self,
        management: &Management<'_>,
    ) -> impl Future<Output = Result<Option<Settlement>, VerifyError>> + Send {
        let _ = management;
        std::future::ready(Ok(None))
    }

    /// A [`Meter`] debiting the payer of `receipt` (a request this method
    /// just verified, at `price` per unit) as a response is delivered,
    /// for methods that meter (`Ok(None)` by default: the method does
    /// not).
    ///
    /// # Errors
    ///
    /// A [`MethodError`] when `receipt` is not one of this method's.
    fn meter(
        &self,
        price: &Price,
        receipt: &Receipt,
    ) -> Result<Option<Arc<dyn Meter>>, MethodError> {
        let _ = (price, receipt);
        Ok(None)
    }

    /// The method-specific `request` object for `price`, or `Ok(None)` when
    /// this method cannot serve the price (another currency, for example).
    ///
    /// It must depend only on the price and the method's configuration: the
    /// registry encodes it once per price, and pins each credential to it.
    /// Per-challenge correlation data belongs in `opaque`, not here.
    ///
    /// # Errors
    ///
    /// [`MethodError`] when the price cannot be expressed (too many decimals
    /// for the currency, say): a configuration problem of the server.
    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError>;

    /// Whether this method's proofs could pay again if the store forgot
    /// its claims (after a restart with a store in memory): the registry
    /// then refuses to build on a store that is not
    /// [durable](crate::store::Store::is_durable). `false` by default.
    fn needs_durable_store(&self) -> bool {
        false
    }

    /// Verifies and settles a credential against the request this route
    /// expects.
    fn verify(
        &self,
        verification: &Verification<'_>,
    ) -> impl Future<Output = Result<Settlement, VerifyError>> + Send;
}

/// What a method gets to verify one credential.
#[derive(Debug)]
#[non_exhaustive]
pub struct Verification<'a> {
    /// The credential, its binding already checked.
    pub credential: &'a Credential,
    /// The request this route expects from this method (equal to the
    /// echoed one).
    pub request: &'a Base64Json,
    /// The route's price.
    pub price: &'a Price,
    /// When the challenge expires.
    pub expires: SystemTime,
    /// When the challenge was issued, at the latest (its expiry less the
    /// price's validity): nothing done before it can have been done for
    /// this challenge.
    pub issued: SystemTime,
    /// The shared store, for single-use claims of the method's own proofs.
    pub claims: &'a SharedStore,
    /// How many units of the price the request consumes (1 unless the
    /// route meters, e.g. tokens). Only methods that meter (see
    /// [`PaymentMethod::single_use_challenges`]) see other values.
    pub units: u128,
    /// The challenge's failed attempts so far (for methods that answer a
    /// challenge many times).
    pub attempts: ChallengeAttempts,
}

/// What a method gets to handle one management request.
#[derive(Debug)]
#[non_exhaustive]
pub struct Management<'a> {
    /// The credential; its challenge's binding, realm, method, intent and
    /// expiry already checked.
    pub credential: &'a Credential,
    /// When the challenge expires.
    pub expires: SystemTime,
    /// The challenge's failed attempts so far.
    pub attempts: ChallengeAttempts,
}

/// A settled payment, as the method reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    reference: String,
    receipt_fields: Map<String, Value>,
}

impl Settlement {
    /// A settlement identified by `reference` (a transaction hash, a
    /// payment intent id).
    pub fn new(reference: impl Into<String>) -> Self {
        Self {
            reference: reference.into(),
            receipt_fields: Map::new(),
        }
    }

    /// Adds a method-specific field to the receipt.
    #[must_use]
    pub fn receipt_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.receipt_fields.insert(name.into(), value.into());
        self
    }

    /// The reference.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The extra receipt fields.
    pub fn receipt_fields(&self) -> &Map<String, Value> {
        &self.receipt_fields
    }

    pub(crate) fn into_parts(self) -> (String, Map<String, Value>) {
        (self.reference, self.receipt_fields)
    }
}

/// A credential a method did not accept, and whose fault that is.
#[derive(Debug)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    detail: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    spent: bool,
    resume: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerifyErrorKind {
    /// The client's fault: 402 with the problem type and a fresh challenge.
    Client(ProblemType),
    /// Infrastructure trouble: 503 with `Retry-After`; the proof stays usable.
    Unavailable(Duration),
}

impl VerifyError {
    fn client(problem: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind: VerifyErrorKind::Client(problem),
            detail: detail.into(),
            source: None,
            spent: false,
            resume: None,
        }
    }

    /// A client-side failure of any problem type (a session's
    /// `session/insufficient-balance`, say): 402, or the status the problem
    /// type has, with fresh challenges.
    pub fn problem(problem: ProblemType, detail: impl Into<String>) -> Self {
        Self::client(problem, detail)
    }

    /// The proof is invalid (`verification-failed`).
    pub fn failed(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::VerificationFailed, detail)
    }

    /// The payment is smaller than the price (`payment-insufficient`).
    pub fn insufficient(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::PaymentInsufficient, detail)
    }

    /// The payment's own authorization expired (`payment-expired`).
    pub fn expired(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::PaymentExpired, detail)
    }

    /// The credential's payload is not what this method expects
    /// (`malformed-credential`).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::MalformedCredential, detail)
    }

    /// The proof was already used (`invalid-challenge`).
    pub fn replayed(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::InvalidChallenge, detail)
    }

    /// The method's infrastructure (RPC node, processor, store) could not
    /// answer; the client may retry after `retry_after` with the same proof.
    pub fn unavailable(retry_after: Duration, detail: impl Into<String>) -> Self {
        Self {
            kind: VerifyErrorKind::Unavailable(retry_after),
            detail: detail.into(),
            source: None,
            spent: false,
            resume: None,
        }
    }

    /// Chains the underlying cause (kept out of responses).
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Marks the challenge as used up by this failure: the payment was
    /// attempted where it cost the server (a transaction that reverted on
    /// chain, with fees the server sponsored). The registry then keeps the
    /// challenge claimed instead of releasing it, so the same challenge
    /// cannot be tried again for free; the client asks for a new one.
    #[must_use]
    pub fn spends_challenge(mut self) -> Self {
        self.spent = true;
        self
    }

    /// Whether the failure used up the challenge; see
    /// [`spends_challenge`](Self::spends_challenge).
    pub fn is_challenge_spent(&self) -> bool {
        self.spent
    }

    /// Whether the failure is the infrastructure's, not the client's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, VerifyErrorKind::Unavailable(_))
    }

    /// The problem type a client-side failure maps to.
    pub fn problem_type(&self) -> Option<ProblemType> {
        match self.kind {
            VerifyErrorKind::Client(problem) => Some(problem),
            VerifyErrorKind::Unavailable(_) => None,
        }
    }

    /// The fresh challenge of this method that answers the refusal carries
    /// these members in its request's `methodDetails` (a session names the
    /// channel to go on with: `channelId`).
    #[must_use]
    pub fn resume_with(mut self, method_details: Map<String, Value>) -> Self {
        self.resume = Some(method_details);
        self
    }

    /// What [`resume_with`](Self::resume_with) set.
    pub(crate) fn resume(&self) -> Option<&Map<String, Value>> {
        self.resume.as_ref()
    }

    pub(crate) fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The explanation shown to the client.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// A method that cannot build a request for a price: a server
/// misconfiguration, answered with 500.
#[derive(Debug)]
pub struct MethodError {
    detail: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl MethodError {
    /// An error with an explanation for the operator.
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            source: None,
        }
    }

    /// Chains the underlying cause.
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// The JSON object of a typed request, as [`PaymentMethod::request`]
/// returns it (the challenge carries it base64url-encoded).
///
/// # Errors
///
/// [`MethodError`] when `request` does not serialize to a JSON object.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Invoice {
///     amount: String,
/// }
/// let object = tower_mpp::method::request_object(&Invoice { amount: "100".into() }).unwrap();
/// assert_eq!(object["amount"], "100");
/// assert!(tower_mpp::method::request_object(&"not an object").is_err());
/// ```
pub fn request_object<T: serde::Serialize>(request: &T) -> Result<Map<String, Value>, MethodError> {
    match serde_json::to_value(request) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(MethodError::new("the request is not a JSON object")),
        Err(e) => Err(MethodError::new("the request did not serialize").with_source(e)),
    }
}

impl fmt::Display for MethodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for MethodError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
