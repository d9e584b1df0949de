//! `server.verify`: a credential checked by the registry's own verification
//! path ([`Payments::verify`]), with a test method that settles or reports
//! the verification error the harness names.
//!
//! Input `{realm, secretKey, method, intent, request, expires?, credential,
//! verificationError?}`; output `{ok:true, receipt}` or `{ok:false,
//! errorType}` with the registry's problem type (`invalid_challenge`,
//! `payment_expired`, `verification_failed`, ...).
//!
//! Two translations happen here, and nothing else:
//!
//! - the harness's secrets are shorter than the 32 bytes a server accepts.
//!   HMAC pads a key shorter than its 64-byte block with zeros (RFC 2104,
//!   section 2), so the secret zero-padded to 32 bytes gives exactly the
//!   same ids, and the registry is configured through [`SecretKey`] as any
//!   server is;
//! - the harness compares the receipt exactly, with a fixed timestamp; the
//!   registry stamps the time of settlement, which is checked to be a
//!   timestamp and then reported as the harness's one. A method the
//!   registry does not serve (`method_unsupported` for us) is a challenge
//!   for another route to the harness: `invalid_challenge`.

use std::future::Future;

use serde_json::{Map, Value, json};
use tower_mpp::binding::{MIN_SECRET_LEN, SecretKey};
use tower_mpp::method::{
    ChargeContext, MethodError, PaymentMethod, Payments, Price, RejectionKind, Settlement,
    Verification, VerifyError,
};
use tower_mpp::protocol::{Credential, ProblemType};

use super::{OpResult, challenge_from_value, optional, string};

/// The receipt reference the harness expects from a settled case.
const REFERENCE: &str = "conformance-receipt";

/// The receipt timestamp the harness expects.
const TIMESTAMP: &str = "2026-01-29T12:00:00Z";

/// The route's method: it asks for the harness's request and settles every
/// credential, or refuses each one with the harness's verification error.
#[derive(Debug)]
struct VectorMethod {
    name: String,
    request: Map<String, Value>,
    error: Option<String>,
}

impl PaymentMethod for VectorMethod {
    fn name(&self) -> &str {
        &self.name
    }

    fn request(
        &self,
        _intent: &str,
        _price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        Ok(Some(self.request.clone()))
    }

    fn verify(
        &self,
        _verification: &Verification<'_>,
    ) -> impl Future<Output = Result<Settlement, VerifyError>> + Send {
        let result = match &self.error {
            Some(detail) => Err(VerifyError::failed(detail.clone())),
            None => Ok(Settlement::new(REFERENCE)),
        };
        std::future::ready(result)
    }
}

/// The harness's secret as a server secret with the same HMAC.
pub(crate) fn padded_secret(secret: &str) -> Result<SecretKey, String> {
    let mut bytes = secret.as_bytes().to_vec();
    if bytes.len() < MIN_SECRET_LEN {
        bytes.resize(MIN_SECRET_LEN, 0);
    }
    SecretKey::new(bytes).map_err(|e| e.to_string())
}

pub(crate) fn credential_from_value(input: &Value) -> Result<Credential, String> {
    let challenge = challenge_from_value(input.get("challenge").unwrap_or(&Value::Null))?;
    let Some(Value::Object(payload)) = input.get("payload") else {
        return Err("credential `payload` must be an object".into());
    };
    let mut credential = Credential::new(challenge, payload.clone());
    credential.source = optional(input, "source")?.map(str::to_owned);
    Ok(credential)
}

/// The harness's name of a problem type.
fn error_type(problem: ProblemType) -> String {
    match problem {
        ProblemType::MethodUnsupported => "invalid_challenge".to_owned(),
        other => other.code().replace('-', "_"),
    }
}

/// The registry of the harness's route: its realm, secret and method.
pub(crate) fn payments(input: &Value) -> Result<Payments, String> {
    let Some(Value::Object(request)) = input.get("request") else {
        return Err("input field `request` must be an object".into());
    };
    let intent = string(input, "intent")?;
    if intent != "charge" {
        return Err(format!(
            "the registry charges; intent {intent:?} is not served"
        ));
    }
    let error = match input.get("verificationError") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let method = VectorMethod {
        name: string(input, "method")?.to_owned(),
        request: request.clone(),
        error,
    };
    let secret = padded_secret(string(input, "secretKey")?)?;
    Payments::builder()
        .realm(string(input, "realm")?)
        .secret_ring(tower_mpp::binding::SecretRing::new(secret))
        .method(method)
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) fn server_verify(input: &Value) -> OpResult {
    let payments = payments(input)?;
    let credential = credential_from_value(input.get("credential").unwrap_or(&Value::Null))?;
    // The harness's routes bind no scope: the empty scope of a direct call.
    let ctx = ChargeContext::default();
    let price = Price::base_units(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match runtime.block_on(payments.verify(&price, &ctx, &credential)) {
        Ok(receipt) => {
            if receipt.timestamp.as_str().is_empty() {
                return Err("the registry wrote a receipt without a timestamp".into());
            }
            let mut out = Map::new();
            out.insert("status".into(), "success".into());
            out.insert("method".into(), receipt.method.into());
            out.insert("timestamp".into(), TIMESTAMP.into());
            out.insert("reference".into(), receipt.reference.into());
            if let Some(id) = receipt.external_id {
                out.insert("externalId".into(), id.into());
            }
            Ok(json!({"ok": true, "receipt": out}))
        }
        Err(rejection) => match rejection.kind() {
            RejectionKind::Failed(problem) => {
                Ok(json!({"ok": false, "errorType": error_type(problem)}))
            }
            other => Err(format!(
                "the registry refused without a problem type ({other:?}): {}",
                rejection.detail()
            )),
        },
    }
}
