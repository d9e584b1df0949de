//! The per-request payment context the service puts in the request
//! extensions, and through which extractors charge.

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::header::{AUTHORIZATION, HeaderMap};
use http::{HeaderValue, Request};

use crate::method::{
    ChargeContext, Meter, PaymentFailed, PaymentRejection, Payments, Price, RejectionKind,
};
use crate::protocol::{AcceptPayment, Credential, CredentialError, ProblemType, Receipt};

/// The `Content-Digest` of a request body, inserted into the request
/// extensions by [`BodyDigestLayer`](super::BodyDigestLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest(pub String);

/// In the extensions of a `2xx` response whose request the
/// [`PaymentLayer`](super::PaymentLayer) debited for: a price above zero
/// (not a free, zero-amount payment, nor a management request's `204`,
/// which buys nothing).
///
/// [`IdempotencyLayer`](super::IdempotencyLayer) keeps only responses
/// that carry it, so free requests cannot push paid responses out of its
/// cache.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaidResponse {
    /// The receipt the response carries.
    pub receipt: Receipt,
}

/// A settled payment, waiting for the response.
#[derive(Debug)]
pub(crate) struct Settled {
    pub(crate) receipt: Receipt,
    pub(crate) header: HeaderValue,
    /// Whether it debited anything (a price above zero).
    pub(crate) debited: bool,
}

/// What the service learned about the request, shared with extractors.
#[derive(Debug, Clone)]
pub(crate) struct PaymentContext {
    inner: Arc<ContextInner>,
}

#[derive(Debug)]
struct ContextInner {
    payments: Payments,
    credential: Option<Result<Credential, Malformed>>,
    accept: Option<AcceptPayment>,
    scope: String,
    settled: OnceLock<Settled>,
}

impl PaymentContext {
    /// Reads the credential, `Accept-Payment` and scope of a request.
    ///
    /// # Errors
    ///
    /// A 400 rejection when the request carries more than one `Payment`
    /// credential.
    pub(crate) fn from_request<B>(
        payments: &Payments,
        request: &mut Request<B>,
    ) -> Result<Self, PaymentRejection> {
        let parsed = request.extensions_mut().remove::<ParsedCredential>();
        let credential = match parsed {
            // Read already (by the `IdempotencyLayer`) from the request's
            // only `Authorization` header.
            Some(parsed) if only_authorization(request.headers(), &parsed.header) => {
                Some(Ok(parsed.credential))
            }
            _ => read_credential(request.headers()).map_err(|SeveralCredentials| {
                payments.rejection(
                    RejectionKind::SeveralCredentials,
                    "Send exactly one Payment credential.",
                )
            })?,
        };
        let accept_values: Vec<&str> = request
            .headers()
            .get_all("accept-payment")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let accept = if accept_values.is_empty() {
            None
        } else {
            AcceptPayment::parse(accept_values).ok()
        };
        Ok(Self {
            inner: Arc::new(ContextInner {
                payments: payments.clone(),
                credential,
                accept,
                scope: scope(request),
                settled: OnceLock::new(),
            }),
        })
    }

    /// The payment settled for this request, if any.
    pub(crate) fn settled(&self) -> Option<&Settled> {
        self.inner.settled.get()
    }

    pub(crate) fn payments(&self) -> &Payments {
        &self.inner.payments
    }

    pub(crate) fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// The request's credential, when it has a well-formed one.
    pub(crate) fn credential(&self) -> Option<&Credential> {
        match &self.inner.credential {
            Some(Ok(credential)) => Some(credential),
            _ => None,
        }
    }

    /// Whether the request carries a `Payment` credential (well formed or
    /// not).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn has_credential(&self) -> bool {
        self.inner.credential.is_some()
    }

    /// Verifies this request's credential for a response metered at
    /// `price` per unit, debiting nothing yet: its receipt, and the meter
    /// to debit as the response is delivered. Only metering methods are
    /// offered (a 402 names them alone).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) async fn meter(
        &self,
        price: &Price,
        digest: Option<&str>,
    ) -> Result<(Receipt, Arc<dyn Meter>), PaymentRejection> {
        let receipt = self.charge(&price.clone().units(0), digest).await?;
        let payments = &self.inner.payments;
        let Some(credential) = self.credential() else {
            return Err(payments.misconfigured("A metered payment settled without a credential."));
        };
        let meter = payments.meter(&credential.challenge, price, &receipt)?;
        Ok((receipt, meter))
    }

    /// Charges `price` for this request: a 402 without a credential, the
    /// full verification with one. At most one charge settles per request.
    pub(crate) async fn charge(
        &self,
        price: &Price,
        digest: Option<&str>,
    ) -> Result<Receipt, PaymentRejection> {
        let inner = &self.inner;
        let payments = &inner.payments;
        if inner.settled.get().is_some() {
            return Err(payments.misconfigured("This request was already charged once."));
        }
        let ctx = ChargeContext {
            scope: &inner.scope,
            digest,
            accept: inner.accept.as_ref(),
        };
        let credential = match &inner.credential {
            None => return Err(payments.payment_required(price, &ctx)),
            Some(Err(malformed)) => {
                let detail = malformed.to_string();
                let rejection =
                    payments.failed(price, &ctx, ProblemType::MalformedCredential, detail);
                payments.inner.hooks.payment_failed(&PaymentFailed {
                    scope: &inner.scope,
                    challenge_id: None,
                    rejection: &rejection,
                });
                return Err(rejection);
            }
            Some(Ok(credential)) => credential,
        };
        let receipt = payments.verify(price, &ctx, credential).await?;
        let header = receipt.to_header_value().map_err(|e| {
            payments
                .misconfigured("the receipt cannot be encoded")
                .with_source(e)
        })?;
        inner
            .settled
            .set(Settled {
                receipt: receipt.clone(),
                header,
                debited: price.unit_count() > 0 && price.amount().to_base_units(38) != Ok(0),
            })
            .map_err(|_| payments.misconfigured("This request was already charged once."))?;
        Ok(receipt)
    }
}

/// The route scope: `GET /path`, with the path the client asked for. Inside
/// a router nested by axum (`Router::nest`) the request's URI has lost the
/// prefix; the original URI axum keeps is used then, so that `/public/x`
/// and `/premium/x` never share a scope.
fn scope<B>(request: &Request<B>) -> String {
    let method = request.method().as_str();
    #[cfg(feature = "axum")]
    let path = request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| request.uri().path(), |original| original.path());
    #[cfg(not(feature = "axum"))]
    let path = request.uri().path();
    let mut scope = String::with_capacity(method.len() + 1 + path.len());
    scope.push_str(method);
    scope.push(' ');
    scope.push_str(path);
    scope
}

/// More than one `Payment` credential in a request.
struct SeveralCredentials;

/// A `Payment` credential that cannot be read.
#[derive(Debug)]
enum Malformed {
    /// The header value holds bytes outside visible ASCII.
    NotAscii,
    /// The credential itself is invalid.
    Invalid(CredentialError),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAscii => f.write_str("The Payment credential is not visible ASCII."),
            Self::Invalid(e) => write!(f, "The Payment credential is malformed: {e}."),
        }
    }
}

/// The request's `Payment` credential: `None` without one, `Some(Err)` when
/// it is malformed.
/// A credential read from a request's `Authorization` header before the
/// payment layer, left in the request's extensions so that it is not read
/// twice.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCredential {
    /// The header it was read from, whole.
    pub(crate) header: http::HeaderValue,
    pub(crate) credential: Credential,
}

/// Whether `header` is the request's one and only `Authorization` header.
fn only_authorization(headers: &HeaderMap, header: &http::HeaderValue) -> bool {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    values.next() == Some(header) && values.next().is_none()
}

fn read_credential(
    headers: &HeaderMap,
) -> Result<Option<Result<Credential, Malformed>>, SeveralCredentials> {
    let mut found = None;
    let mut record = |credential: Result<Credential, Malformed>| {
        if found.replace(credential).is_some() {
            Err(SeveralCredentials)
        } else {
            Ok(())
        }
    };
    for value in headers.get_all(AUTHORIZATION) {
        let Ok(text) = value.to_str() else {
            if starts_with_payment(value.as_bytes()) {
                record(Err(Malformed::NotAscii))?;
            }
            continue;
        };
        // Base64url tokens hold no commas: splitting finds a Payment
        // credential sent beside another scheme.
        for item in text.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if starts_with_payment(item.as_bytes()) {
                record(Credential::parse(item).map_err(Malformed::Invalid))?;
            }
        }
    }
    Ok(found)
}

fn starts_with_payment(bytes: &[u8]) -> bool {
    bytes.len() >= 7
        && bytes[..7].eq_ignore_ascii_case(b"payment")
        && bytes.get(7).is_none_or(|b| *b == b' ' || *b == b'\t')
}
