//! `PaymentRejection`: every way a paid request can fail, as one typed
//! error that knows its status, problem type and fresh challenges, and the
//! replaceable responder that turns it into an HTTP response.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::protocol::{Challenge, PROBLEM_JSON, ProblemDetails, ProblemType, problem_json};

/// Why a request was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credential: 402 with fresh challenges (`payment-required`).
    PaymentRequired,
    /// A credential that failed: 402 (or 400 for `method-unsupported`) with
    /// fresh challenges and this problem type.
    Failed(ProblemType),
    /// More than one `Payment` credential in the request: 400.
    SeveralCredentials,
    /// The request body is larger than the configured limit for a route that
    /// binds its digest: 413.
    BodyTooLarge,
    /// The request body could not be read: 400.
    BodyUnreadable,
    /// The request body did not arrive within the read deadline of a route
    /// that binds its digest: 408.
    BodyTimeout,
    /// A payment method or the store could not answer: 503 with
    /// `Retry-After`. The proof stays usable.
    Unavailable(Duration),
    /// The server is misconfigured (no `PaymentLayer`, a price no method can
    /// express, charging twice in one request): 500.
    Misconfigured,
}

/// A paid request that was not served.
///
/// It implements `IntoResponse` (with the `axum` feature) through the
/// registry's [`RejectionResponder`], and travels in the response
/// extensions so that outer layers can inspect it.
#[derive(Clone)]
pub struct PaymentRejection {
    kind: RejectionKind,
    detail: Cow<'static, str>,
    challenges: Vec<Challenge>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    pub(crate) responder: Option<Arc<dyn RejectionResponder>>,
}

impl PaymentRejection {
    pub(crate) fn new(kind: RejectionKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            challenges: Vec::new(),
            source: None,
            responder: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// The fresh challenges, to change before they are sent.
    pub(crate) fn challenges_mut(&mut self) -> &mut [Challenge] {
        &mut self.challenges
    }

    pub(crate) fn with_challenges(mut self, challenges: Vec<Challenge>) -> Self {
        self.challenges = challenges;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The explanation sent to the client.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The fresh challenges sent with the response (402 only).
    pub fn challenges(&self) -> &[Challenge] {
        &self.challenges
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            RejectionKind::Failed(problem) => problem.status(),
            RejectionKind::SeveralCredentials | RejectionKind::BodyUnreadable => {
                StatusCode::BAD_REQUEST
            }
            RejectionKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectionKind::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            RejectionKind::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem details body.
    pub fn problem(&self) -> ProblemDetails {
        let (uri, title) = self.problem_type();
        let problem =
            ProblemDetails::custom(uri, title, self.status()).with_detail(self.detail.as_ref());
        match self.challenges.first() {
            Some(challenge) => problem.with_challenge_id(challenge.id.clone()),
            None => problem,
        }
    }

    /// The problem body's JSON text: [`problem`](Self::problem) written
    /// directly.
    fn problem_json(&self) -> String {
        let (uri, title) = self.problem_type();
        let challenge_id = self.challenges.first().map(|c| c.id.as_str());
        problem_json(
            uri,
            title,
            self.status().as_u16(),
            Some(&self.detail),
            challenge_id,
        )
    }

    /// The problem's type URI and title.
    fn problem_type(&self) -> (&'static str, &'static str) {
        let core = match self.kind {
            RejectionKind::PaymentRequired => ProblemType::PaymentRequired,
            RejectionKind::Failed(problem) => problem,
            RejectionKind::SeveralCredentials => ProblemType::MalformedCredential,
            _ => {
                return (
                    "about:blank",
                    self.status().canonical_reason().unwrap_or("Error"),
                );
            }
        };
        (core.uri(), core.title())
    }

    /// How long a client should wait before retrying (503 only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            RejectionKind::Unavailable(after) => Some(after),
            _ => None,
        }
    }

    /// The response, built by the registry's responder (or the default one).
    pub fn to_response(&self) -> Response<Bytes> {
        self.clone().into_http_response()
    }

    /// [`to_response`](Self::to_response), moving the rejection into the
    /// response extensions instead of copying it.
    pub(crate) fn into_http_response(self) -> Response<Bytes> {
        let mut response = match &self.responder {
            Some(responder) => responder.respond(&self),
            None => ProblemResponder.respond(&self),
        };
        response.extensions_mut().insert(self);
        response
    }
}

impl fmt::Debug for PaymentRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentRejection")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .field("challenges", &self.challenges.len())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for PaymentRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.detail)
    }
}

impl std::error::Error for PaymentRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Turns a rejection into a response; replace it to change the body or add
/// headers. The response extensions receive the rejection afterwards.
pub trait RejectionResponder: Send + Sync + 'static {
    /// The response for `rejection`.
    fn respond(&self, rejection: &PaymentRejection) -> Response<Bytes>;
}

/// The default responder: an RFC 9457 `application/problem+json` body, one
/// `WWW-Authenticate` line per fresh challenge, `Cache-Control: no-store`,
/// and `Retry-After` on 503.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemResponder;

impl RejectionResponder for ProblemResponder {
    fn respond(&self, rejection: &PaymentRejection) -> Response<Bytes> {
        let written: Vec<HeaderValue> = rejection
            .challenges()
            .iter()
            // Challenges are validated when issued; one that still cannot be
            // written is left out rather than sent broken.
            .filter_map(|challenge| challenge.to_header_value().ok())
            .collect();
        if written.is_empty() && !rejection.challenges().is_empty() {
            // A 402 without a challenge leaves the client nothing to pay:
            // this is the server's misconfiguration, not a payment request.
            return unwritable_challenges();
        }
        let body = Bytes::from(rejection.problem_json());
        let mut response = Response::new(body);
        *response.status_mut() = rejection.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for value in written {
            headers.append(WWW_AUTHENTICATE, value);
        }
        if let Some(after) = rejection.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
        }
        response
    }
}

/// The 500 sent instead of a 402 whose challenges could not be written.
fn unwritable_challenges() -> Response<Bytes> {
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    let body = problem_json(
        "about:blank",
        status.canonical_reason().unwrap_or("Error"),
        status.as_u16(),
        Some("The server could not write its payment challenges."),
        None,
    );
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
