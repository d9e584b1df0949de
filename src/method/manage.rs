//! Management requests: a body-less `POST` or a `HEAD` carrying only a
//! credential that changes payment state without buying anything (a
//! session's voucher, top-up or close). The layer answers them itself,
//! with a receipt, and never runs the route's handler.
//!
//! They buy nothing, so the route's price is not needed: the challenge's
//! binding, realm, method, intent and expiry are checked as for any
//! credential, then the method checks that the echoed request is one of
//! its own (the binding proves this server issued it). A refusal carries a
//! fresh challenge like the echoed one (same request and route scope), so a
//! client can retry at once.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::charge::{CLAIM_MARGIN, RESERVED_RECEIPT_FIELDS, bind_opaque};
use super::detach::Detachable;
use super::payment_method::{Management, VerifyErrorKind};
use super::registry::{DynMethod, Payments};
use super::rejection::{PaymentRejection, RejectionKind};
use super::trace::RequestSpan;
use crate::binding::BindingInput;
use crate::protocol::{Challenge, Credential, ProblemType, Receipt, Timestamp};

impl Payments {
    /// Handles `credential` as a management request: `Ok(None)` when its
    /// method has no management requests (a charge: the request goes to
    /// its handler), else the receipt to answer with.
    ///
    /// # Errors
    ///
    /// A [`PaymentRejection`]: 402 (or the session problem's status) with a
    /// fresh challenge, or 503 when the method's infrastructure is down.
    pub async fn manage(
        &self,
        credential: &Credential,
    ) -> Result<Option<Receipt>, PaymentRejection> {
        let inner = &self.inner;
        let echo = &credential.challenge;
        let Some(method) = inner
            .methods
            .iter()
            .find(|m| m.name() == echo.method && m.supports_intent(&echo.intent))
        else {
            return Ok(None);
        };
        if method.single_use_challenges() {
            return Ok(None);
        }
        let span = RequestSpan::new(echo, None);
        let result = span.instrument(self.manage_with(method, credential)).await;
        match &result {
            Ok(Some(receipt)) => span.finish(Ok(receipt)),
            Err(rejection) => span.finish(Err(rejection)),
            // Not a management request after all: the handler serves it.
            Ok(None) => {}
        }
        result
    }

    /// [`manage`](Self::manage) with the credential's method found.
    async fn manage_with(
        &self,
        method: &Arc<dyn DynMethod>,
        credential: &Credential,
    ) -> Result<Option<Receipt>, PaymentRejection> {
        let inner = &self.inner;
        let echo = &credential.challenge;
        let refuse = |problem: ProblemType, detail: String| {
            self.rejection(RejectionKind::Failed(problem), detail)
                .with_challenges(self.rechallenge(echo))
        };
        if !inner
            .secrets
            .verify(&echo.id, &BindingInput::from_challenge(echo))
        {
            return Err(self.rejection(
                RejectionKind::Failed(ProblemType::InvalidChallenge),
                "The challenge was not issued by this server, or was altered.",
            ));
        }
        if echo.realm != inner.realm {
            return Err(self.rejection(
                RejectionKind::Failed(ProblemType::InvalidChallenge),
                "The challenge was issued for another realm.",
            ));
        }
        let now = SystemTime::now();
        let expires = match &echo.expires {
            Some(expires) if !expires.is_reached(now) => expires.to_system_time(),
            _ => {
                return Err(refuse(
                    ProblemType::SessionChallengeNotFound,
                    "The challenge has expired: answer the fresh one.".to_owned(),
                ));
            }
        };
        // A top-up broadcasts a transaction: it runs to its end and its
        // outcome reaches the method's store even if the client goes away.
        let ttl = expires.duration_since(now).unwrap_or_default() + CLAIM_MARGIN;
        let attempts = self.attempts(&echo.id, ttl);
        let (method, owned) = (Arc::clone(method), credential.clone());
        let managing = Detachable::new(async move {
            let management = Management {
                credential: &owned,
                expires,
                attempts,
            };
            method.manage(&management).await
        });
        let settlement = match managing.await {
            Ok(Some(settlement)) => settlement,
            Ok(None) => return Ok(None),
            Err(error) => {
                self.count_failure(&error, &echo.id, ttl).await;
                let rejection = match error.kind() {
                    VerifyErrorKind::Client(problem) => self.resumed(
                        refuse(problem, error.detail().to_owned()),
                        &echo.method,
                        &echo.intent,
                        &error,
                    ),
                    VerifyErrorKind::Unavailable(after) => {
                        self.rejection(RejectionKind::Unavailable(after), error.detail().to_owned())
                    }
                };
                return Err(rejection.with_source(error));
            }
        };
        let (reference, mut fields) = settlement.into_parts();
        fields.retain(|name, _| !RESERVED_RECEIPT_FIELDS.contains(&name.as_str()));
        let mut receipt = Receipt::new(echo.method.clone(), Timestamp::now(), reference);
        receipt.extra = fields;
        Ok(Some(receipt))
    }

    /// A fresh challenge like `echo`: the same method, intent, request and
    /// route scope, a new expiry and nonce. Only for an echo whose binding
    /// was checked (its request is one this server offered).
    pub(crate) fn rechallenge(&self, echo: &Challenge) -> Vec<Challenge> {
        let inner = &self.inner;
        let Ok(expires) = Timestamp::after(inner.expiry) else {
            return Vec::new();
        };
        let scope = echo
            .opaque
            .as_ref()
            .and_then(|o| o.object().get("scope"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let opaque = bind_opaque(scope, inner.nonces.next().as_str());
        let id = inner
            .secrets
            .offer_signer(
                &inner.realm,
                &echo.method,
                &echo.intent,
                echo.request.as_wire(),
            )
            .sign(
                Some(expires.as_str()),
                echo.digest.as_deref(),
                Some(opaque.as_wire()),
            );
        let mut challenge = Challenge::new(
            id,
            inner.realm.clone(),
            echo.method.clone(),
            echo.intent.clone(),
            echo.request.clone(),
        )
        .with_expires(expires)
        .with_opaque(opaque);
        challenge.digest.clone_from(&echo.digest);
        challenge.description.clone_from(&echo.description);
        if challenge.validate().is_err() {
            return Vec::new();
        }
        vec![challenge]
    }
}
