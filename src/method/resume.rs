//! Fresh challenges that resume: after a refusal a method marked with
//! [`VerifyError::resume_with`](super::VerifyError::resume_with), the
//! challenge of that method and intent carries the given `methodDetails`
//! members (a session names the channel the client pays from, so that its
//! next credential goes on with it), and is signed for that request.

use serde_json::{Map, Value};

use super::payment_method::VerifyError;
use super::registry::Payments;
use super::rejection::PaymentRejection;
use crate::protocol::{Base64Json, Challenge, Timestamp};

impl Payments {
    /// `rejection` with its challenge of `method` and `intent` resumed as
    /// `error` asks (see [`resume_challenges`](Self::resume_challenges)).
    pub(crate) fn resumed(
        &self,
        mut rejection: PaymentRejection,
        method: &str,
        intent: &str,
        error: &VerifyError,
    ) -> PaymentRejection {
        if let Some(details) = error.resume() {
            self.resume_challenges(rejection.challenges_mut(), method, intent, details);
        }
        rejection
    }

    /// Adds `details` to the `methodDetails` of the challenges of `method`
    /// and `intent` among `challenges`, and signs them again. A challenge
    /// whose request cannot take them is left as it was.
    pub(crate) fn resume_challenges(
        &self,
        challenges: &mut [Challenge],
        method: &str,
        intent: &str,
        details: &Map<String, Value>,
    ) {
        let inner = &self.inner;
        for challenge in challenges
            .iter_mut()
            .filter(|c| c.method == method && c.intent == intent)
        {
            let mut request = challenge.request.object().clone();
            let Some(Value::Object(method_details)) = request.get_mut("methodDetails") else {
                continue;
            };
            for (name, value) in details {
                method_details.insert(name.clone(), value.clone());
            }
            let Ok(request) = Base64Json::from_value(Value::Object(request)) else {
                continue;
            };
            let id = inner
                .secrets
                .offer_signer(&inner.realm, method, intent, request.as_wire())
                .sign(
                    challenge.expires.as_ref().map(Timestamp::as_str),
                    challenge.digest.as_deref(),
                    challenge.opaque.as_ref().map(Base64Json::as_wire),
                );
            challenge.id = id;
            challenge.request = request;
        }
    }
}
