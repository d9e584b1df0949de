//! Issuing challenges for a price, and verifying the credentials that
//! answer them in DESIGN.md's order: binding, realm and method, expiry,
//! price pinning, scope and digest, then the single-use claim of the
//! challenge and the method. The claim comes before the method (and is
//! released when the method fails) rather than after it: a method that
//! settles (broadcasts a transaction) must never be run twice for one
//! challenge, or the second payer would pay and be refused. The method
//! runs to its end even if the request goes away (see `detach`), and the
//! claim records its outcome (see `claim`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::claim::Claimed;
use super::detach::Settling;
use super::hooks::{ChallengeIssued, PaymentFailed};
use super::offers::{EncodedOffer, EncodedOffers};
use super::payment_method::VerifyErrorKind;
use super::price::Price;
use super::registry::{DynMethod, Payments};
use super::rejection::{PaymentRejection, RejectionKind};
use super::trace::{self, RequestSpan};
use crate::binding::BindingInput;
use crate::protocol::push_json_string;
use crate::protocol::{
    AcceptPayment, Base64Json, Challenge, Credential, ProblemType, Receipt, Timestamp,
};

/// A method's name and its `request` object for one price.
pub(crate) type MethodRequest = (String, Map<String, Value>);

/// How long a settled challenge stays claimed after it expires, so that
/// clock skew between instances cannot reopen it.
pub(super) const CLAIM_MARGIN: Duration = Duration::from_secs(60);

/// The receipt fields the protocol owns; methods cannot override them.
pub(super) const RESERVED_RECEIPT_FIELDS: [&str; 5] =
    ["status", "method", "timestamp", "reference", "externalId"];

/// What a charge is bound to besides its price: the route, the request body
/// and the client's preferences.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChargeContext<'a> {
    /// The route scope, e.g. `GET /joke`: a challenge issued for one scope
    /// does not pay for another. A challenge whose `opaque` names no scope
    /// (one issued by a server that binds none, as in the conformance
    /// harness) pays only for the empty scope, never for a route's.
    pub scope: &'a str,
    /// The `Content-Digest` of the request body, when the route binds it.
    pub digest: Option<&'a str>,
    /// The client's `Accept-Payment`, to filter and order offers.
    pub accept: Option<&'a AcceptPayment>,
}

impl Payments {
    /// Fresh challenges for `price`: one per method that can serve it, in
    /// server order, then filtered and ordered by `Accept-Payment`.
    ///
    /// # Errors
    ///
    /// A `Misconfigured` [`PaymentRejection`] when no method can express the
    /// price, or a method fails to.
    pub fn challenges(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
    ) -> Result<Vec<Challenge>, PaymentRejection> {
        let inner = &self.inner;
        let expiry = price.expiry_override().unwrap_or(inner.expiry);
        if expiry.is_zero() {
            return Err(self.misconfigured("the price's expiry is zero"));
        }
        let expires = Timestamp::after(expiry)
            .map_err(|e| self.misconfigured("expiry out of range").with_source(e))?;
        // A description a header cannot carry was left out of the price:
        // the route stays payable, and the operator hears of it once.
        #[cfg(feature = "tracing")]
        if let Err(error) = price.check() {
            warn_once_left_out(&error);
        }
        let opaque = bind_opaque(ctx.scope, inner.nonces.next().as_str());
        let offers = self.encoded_offers(price)?;
        let mut challenges = Vec::with_capacity(inner.methods.len());
        for (method, offer) in inner.methods.iter().zip(offers.iter()) {
            let Some(offer) = offer else {
                continue;
            };
            if price.unit_count() != 1 && method.single_use_challenges() {
                // A one-time charge cannot meter units.
                continue;
            }
            let id = offer
                .signer
                .sign(Some(expires.as_str()), ctx.digest, Some(opaque.as_wire()));
            let mut challenge = Challenge::new(
                id,
                inner.realm.clone(),
                method.name(),
                method.intent(),
                offer.request.clone(),
            )
            .with_expires(expires.clone())
            .with_opaque(opaque.clone());
            challenge.digest = ctx.digest.map(str::to_owned);
            challenge.description = price.description_text().map(str::to_owned);
            challenge.validate().map_err(|e| {
                self.misconfigured("a challenge for this price cannot be written")
                    .with_source(e)
            })?;
            challenges.push(challenge);
        }
        if challenges.is_empty() {
            return Err(self.misconfigured(format!("no payment method can charge {price}")));
        }
        Ok(match ctx.accept {
            Some(accept) => accept.rank(challenges, |c| (c.method.as_str(), c.intent.as_str())),
            None => challenges,
        })
    }

    /// The 402 for a request without a credential.
    pub fn payment_required(&self, price: &Price, ctx: &ChargeContext<'_>) -> PaymentRejection {
        match self.challenges(price, ctx) {
            Ok(challenges) => {
                trace_event!(
                    scope = ctx.scope,
                    offers = challenges.len(),
                    "payment required"
                );
                self.inner.hooks.challenge_issued(&ChallengeIssued {
                    scope: ctx.scope,
                    challenges: &challenges,
                });
                self.rejection(
                    RejectionKind::PaymentRequired,
                    "Payment is required for this resource.",
                )
                .with_challenges(challenges)
            }
            Err(rejection) => rejection,
        }
    }

    /// Verifies and settles `credential` for `price`, and returns the
    /// receipt.
    ///
    /// # Errors
    ///
    /// A [`PaymentRejection`]: 402 with fresh challenges when the credential
    /// does not pay for this request, 503 when a method or the store cannot
    /// answer, 500 when the price cannot be expressed.
    pub async fn verify(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        credential: &Credential,
    ) -> Result<Receipt, PaymentRejection> {
        let echo = &credential.challenge;
        let span = RequestSpan::new(echo, Some(price));
        let result = span
            .instrument(self.verify_inner(price, ctx, credential))
            .await;
        span.finish(result.as_ref());
        if let Err(rejection) = &result {
            self.inner.hooks.payment_failed(&PaymentFailed {
                scope: ctx.scope,
                challenge_id: Some(&echo.id),
                rejection,
            });
        }
        result
    }

    async fn verify_inner(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        credential: &Credential,
    ) -> Result<Receipt, PaymentRejection> {
        let inner = &self.inner;
        let echo = &credential.challenge;
        let now = SystemTime::now();
        let Checked {
            method,
            expected,
            expires,
        } = match trace::verifying(|| self.check_challenge(price, ctx, echo, now)) {
            Ok(checked) => checked,
            Err(Refusal::Client(problem, detail)) => {
                return Err(self.failed(price, ctx, problem, detail));
            }
            Err(Refusal::Server(rejection)) => return Err(rejection),
        };

        // A method whose challenges are answered many times (a session:
        // each credential carries a higher voucher) guards replays itself.
        let ttl = expires.duration_since(now).unwrap_or_default() + CLAIM_MARGIN;
        let claim = if method.single_use_challenges() {
            let key = format!("challenge:{}", echo.id);
            match self.claim_challenge(price, ctx, key, ttl).await? {
                Claimed::Held(claim) => Some(claim),
                // Settled for a request that went away: served now, once.
                Claimed::Settled(receipt) => return Ok(receipt),
            }
        } else {
            None
        };

        let validity = price.expiry_override().unwrap_or(inner.expiry);
        let settling = Settling {
            payments: self.clone(),
            method,
            credential: credential.clone(),
            expected,
            price: price.clone(),
            expires,
            issued: expires.checked_sub(validity).unwrap_or(expires),
            scope: ctx.scope.to_owned(),
            claim,
            attempts: (self.attempts(&echo.id, ttl), ttl),
        };
        trace::settling(settling.run()).await.map_err(|error| {
            let rejection = match error.kind() {
                VerifyErrorKind::Client(problem) => self.resumed(
                    self.failed(price, ctx, problem, error.detail().to_owned()),
                    &echo.method,
                    &echo.intent,
                    &error,
                ),
                VerifyErrorKind::Unavailable(after) => {
                    self.rejection(RejectionKind::Unavailable(after), error.detail().to_owned())
                }
            };
            rejection.with_source(error)
        })
    }

    /// Every check before the method, cheapest first: the binding (no I/O
    /// for a forged id), realm, method and intent, expiry, price pinning,
    /// route scope, body digest.
    fn check_challenge(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        echo: &Challenge,
        now: SystemTime,
    ) -> Result<Checked, Refusal> {
        use ProblemType::{
            InvalidChallenge, MethodUnsupported, PaymentExpired, VerificationFailed,
        };
        let inner = &self.inner;
        if !inner
            .secrets
            .verify(&echo.id, &BindingInput::from_challenge(echo))
        {
            return Err(Refusal::Client(
                InvalidChallenge,
                "The challenge was not issued by this server, or was altered.",
            ));
        }
        if echo.realm != inner.realm {
            return Err(Refusal::Client(
                InvalidChallenge,
                "The challenge was issued for another realm.",
            ));
        }
        if !inner.methods.iter().any(|m| m.name() == echo.method) {
            return Err(Refusal::Client(
                MethodUnsupported,
                "This payment method is not accepted here.",
            ));
        }
        let Some(index) = inner
            .methods
            .iter()
            .position(|m| m.name() == echo.method && m.supports_intent(&echo.intent))
        else {
            return Err(Refusal::Client(
                InvalidChallenge,
                "The challenge was issued for another intent.",
            ));
        };
        let method = &inner.methods[index];
        if price.unit_count() != 1 && method.single_use_challenges() {
            return Err(Refusal::Client(
                InvalidChallenge,
                "This request is metered in units: pay it with a session.",
            ));
        }
        let Some(expires) = &echo.expires else {
            return Err(Refusal::Client(
                InvalidChallenge,
                "The challenge has no expiry.",
            ));
        };
        if expires.is_reached(now) {
            return Err(Refusal::Client(
                PaymentExpired,
                "The challenge has expired.",
            ));
        }
        let expected = match &self.encoded_offers(price).map_err(Refusal::Server)?[index] {
            Some(offer) if method.pins_request(&offer.request, &echo.request) => {
                offer.request.clone()
            }
            _ => {
                return Err(Refusal::Client(
                    InvalidChallenge,
                    "The challenge was issued for another price or resource.",
                ));
            }
        };
        let scope = echo
            .opaque
            .as_ref()
            .and_then(|o| o.object().get("scope"))
            .and_then(Value::as_str);
        if scope.unwrap_or_default() != ctx.scope {
            return Err(Refusal::Client(
                InvalidChallenge,
                "The challenge was issued for another route.",
            ));
        }
        if echo.digest.as_deref() != ctx.digest {
            return Err(Refusal::Client(
                VerificationFailed,
                "The request body does not match the challenge's digest.",
            ));
        }
        Ok(Checked {
            method: Arc::clone(method),
            expected,
            expires: expires.to_system_time(),
        })
    }

    /// Each method's name and `request` for `price`, for the methods that can
    /// charge it, in server order.
    pub(crate) fn method_requests(
        &self,
        price: &Price,
    ) -> Result<Vec<MethodRequest>, PaymentRejection> {
        let offers = self.encoded_offers(price)?;
        Ok(self
            .inner
            .methods
            .iter()
            .zip(offers.iter())
            .filter_map(|(method, offer)| {
                let offer = offer.as_ref()?;
                Some((method.name().to_owned(), offer.request.object().clone()))
            })
            .collect())
    }

    /// Every method's offer for `price` (`None` where a method cannot serve
    /// it), encoded once per price.
    fn encoded_offers(&self, price: &Price) -> Result<EncodedOffers, PaymentRejection> {
        if let Some(cached) = self.inner.requests.get(price) {
            return Ok(cached);
        }
        let offers: EncodedOffers = self
            .inner
            .methods
            .iter()
            .map(|method| self.encoded_offer(method.as_ref(), price))
            .collect::<Result<Vec<_>, _>>()?
            .into();
        self.inner.requests.insert(price, offers.clone());
        Ok(offers)
    }

    fn encoded_offer(
        &self,
        method: &dyn DynMethod,
        price: &Price,
    ) -> Result<Option<EncodedOffer>, PaymentRejection> {
        let object = method.request(method.intent(), price).map_err(|e| {
            self.misconfigured(format!("method {} cannot charge {price}", method.name()))
                .with_source(e)
        })?;
        let Some(object) = object else {
            return Ok(None);
        };
        let request = Base64Json::from_object(object).map_err(|e| {
            self.misconfigured(format!("method {} built an invalid request", method.name()))
                .with_source(e)
        })?;
        let signer = self.inner.secrets.offer_signer(
            &self.inner.realm,
            method.name(),
            method.intent(),
            request.as_wire(),
        );
        Ok(Some(EncodedOffer { request, signer }))
    }

    /// A rejection carrying this registry's responder.
    pub(crate) fn rejection(
        &self,
        kind: RejectionKind,
        detail: impl Into<Cow<'static, str>>,
    ) -> PaymentRejection {
        let mut rejection = PaymentRejection::new(kind, detail);
        rejection.responder = Some(self.inner.responder.clone());
        rejection
    }

    pub(crate) fn misconfigured(&self, detail: impl Into<Cow<'static, str>>) -> PaymentRejection {
        self.rejection(RejectionKind::Misconfigured, detail)
    }

    /// A client-side failure, with fresh challenges for the route.
    pub(crate) fn failed(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        problem: ProblemType,
        detail: impl Into<Cow<'static, str>>,
    ) -> PaymentRejection {
        match self.challenges(price, ctx) {
            Ok(challenges) => self
                .rejection(RejectionKind::Failed(problem), detail)
                .with_challenges(challenges),
            Err(rejection) => rejection,
        }
    }
}

/// A credential whose challenge passed every check before the method.
struct Checked {
    method: Arc<dyn DynMethod>,
    expected: Base64Json,
    expires: SystemTime,
}

/// Why a challenge was refused before the method saw it.
enum Refusal {
    /// The client's: a 402 (or 400) with fresh challenges.
    Client(ProblemType, &'static str),
    /// The server's configuration: the rejection to send.
    Server(PaymentRejection),
}

/// `opaque` binds the route scope and makes each 402's challenges unique:
/// `{"nonce": "...", "scope": "GET /path"}`. Written directly: for an
/// object of two strings with these sorted keys, JCS is this text.
pub(super) fn bind_opaque(scope: &str, nonce: &str) -> Base64Json {
    let mut json = String::with_capacity(32 + nonce.len() + scope.len());
    json.push_str(r#"{"nonce":"#);
    push_json_string(&mut json, nonce);
    json.push_str(r#","scope":"#);
    push_json_string(&mut json, scope);
    json.push('}');
    Base64Json::from_canonical_string_map(json)
}

/// Logs, once per process, a price whose description was left out.
#[cfg(feature = "tracing")]
fn warn_once_left_out(error: &super::PriceError) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(target: "tower_mpp", %error, "a price's description was left out of its challenges");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_opaque_is_the_canonical_one() {
        for scope in [
            "GET /joke",
            "POST /a\"b\\c",
            "GET /caf\u{e9}/\u{1F600}",
            "GET /\u{1}\u{1f}\u{7f}\n\t",
            "",
        ] {
            let direct = bind_opaque(scope, "AAECAwQFBgcICQoLDA0ODw");
            assert!(direct.is_canonical(), "{scope:?}");
            assert!(direct.is_flat_string_map());
            assert_eq!(direct.object()["scope"], scope);
        }
    }
}
